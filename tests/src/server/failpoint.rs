//! The `failCommand` fail point, as `configureFailPoint` sets it.

use mongodb::bson::{Bson, Document, doc};

/// When the fail point is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailPointMode {
    /// Every matching command.
    AlwaysOn,
    /// The next N matching commands.
    Times(u64),
}

/// A `failCommand` fail point.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailPoint {
    /// When it applies.
    pub mode: FailPointMode,
    /// `failCommands`: the command names it applies to.
    pub fail_commands: Vec<String>,
    /// `errorCode`: the error to answer with.
    pub error_code: Option<i32>,
    /// `closeConnection`: drop the connection without an answer.
    pub close_connection: bool,
    /// `blockConnection` + `blockTimeMS`: wait this long first.
    pub block_time_ms: Option<u64>,
    /// `appName`: only connections whose handshake gave this application name.
    pub app_name: Option<String>,
    /// `errorLabels` to add to the error.
    pub error_labels: Vec<String>,
}

impl FailPoint {
    /// Fails the next `times` of these commands with `code`.
    pub fn error(commands: &[&str], code: i32, times: u64) -> Self {
        Self {
            mode: FailPointMode::Times(times),
            fail_commands: commands.iter().map(|c| c.to_string()).collect(),
            error_code: Some(code),
            close_connection: false,
            block_time_ms: None,
            app_name: None,
            error_labels: Vec::new(),
        }
    }

    /// Delays the next `times` of these commands by `ms`, then runs them normally.
    pub fn delay(commands: &[&str], ms: u64, times: u64) -> Self {
        Self {
            error_code: None,
            block_time_ms: Some(ms),
            ..Self::error(commands, 0, times)
        }
    }

    /// Drops the connection instead of answering.
    pub fn close(mut self) -> Self {
        self.error_code = None;
        self.close_connection = true;
        self
    }

    /// Waits this long before acting.
    pub fn block(mut self, ms: u64) -> Self {
        self.block_time_ms = Some(ms);
        self
    }

    /// Adds error labels to the error.
    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.error_labels = labels.iter().map(|l| l.to_string()).collect();
        self
    }

    /// Applies to every matching command until turned off.
    pub fn always(mut self) -> Self {
        self.mode = FailPointMode::AlwaysOn;
        self
    }

    /// Restricts the fail point to connections with this application name.
    pub fn for_app(mut self, app_name: impl Into<String>) -> Self {
        self.app_name = Some(app_name.into());
        self
    }

    /// The `configureFailPoint` command that sets this fail point on any server (for example
    /// a real one in an end-to-end suite).
    pub fn to_command(&self) -> Document {
        let mode = match self.mode {
            FailPointMode::AlwaysOn => Bson::String("alwaysOn".into()),
            FailPointMode::Times(n) => {
                Bson::Document(doc! { "times": i64::try_from(n).unwrap_or(i64::MAX) })
            }
        };
        let mut data = doc! { "failCommands": self.fail_commands.clone() };
        if let Some(code) = self.error_code {
            data.insert("errorCode", code);
        }
        if self.close_connection {
            data.insert("closeConnection", true);
        }
        if let Some(ms) = self.block_time_ms {
            data.insert("blockConnection", true);
            data.insert("blockTimeMS", i64::try_from(ms).unwrap_or(i64::MAX));
        }
        if let Some(app) = &self.app_name {
            data.insert("appName", app.clone());
        }
        if !self.error_labels.is_empty() {
            data.insert("errorLabels", self.error_labels.clone());
        }
        doc! { "configureFailPoint": "failCommand", "mode": mode, "data": data }
    }

    /// Parses `configureFailPoint`'s `mode` and `data`; `Ok(None)` for mode "off".
    pub(crate) fn from_command(command: &Document) -> Result<Option<Self>, String> {
        let mode = match command.get("mode") {
            Some(Bson::String(s)) if s == "off" => return Ok(None),
            Some(Bson::String(s)) if s == "alwaysOn" => FailPointMode::AlwaysOn,
            Some(Bson::Document(d)) => match d.get("times").and_then(as_u64) {
                Some(n) => FailPointMode::Times(n),
                None => return Err("mode must be 'alwaysOn', 'off' or {times: N}".into()),
            },
            _ => return Err("mode must be 'alwaysOn', 'off' or {times: N}".into()),
        };
        let data = command
            .get_document("data")
            .map_err(|_| "data is required".to_owned())?;
        let strings = |name: &str| -> Vec<String> {
            data.get_array(name)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let fail_commands = strings("failCommands");
        if fail_commands.is_empty() {
            return Err("data.failCommands must list at least one command".into());
        }
        let block = data.get_bool("blockConnection").unwrap_or(false);
        Ok(Some(Self {
            mode,
            fail_commands,
            error_code: data.get("errorCode").and_then(as_u64).map(|c| c as i32),
            close_connection: data.get_bool("closeConnection").unwrap_or(false),
            block_time_ms: block.then(|| data.get("blockTimeMS").and_then(as_u64).unwrap_or(0)),
            app_name: data.get_str("appName").ok().map(str::to_owned),
            error_labels: strings("errorLabels"),
        }))
    }

    /// Whether the fail point applies to this command on this connection; consumes one use.
    pub(crate) fn trigger(&mut self, command: &str, app_name: Option<&str>) -> bool {
        let named = self.fail_commands.iter().any(|c| same_command(c, command));
        let app_ok = self.app_name.as_deref().is_none_or(|a| Some(a) == app_name);
        if !named || !app_ok {
            return false;
        }
        match &mut self.mode {
            FailPointMode::AlwaysOn => true,
            FailPointMode::Times(0) => false,
            FailPointMode::Times(n) => {
                *n -= 1;
                true
            }
        }
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.mode == FailPointMode::Times(0)
    }
}

fn same_command(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("ismaster") && b.eq_ignore_ascii_case("ismaster"))
}

fn as_u64(value: &Bson) -> Option<u64> {
    match value {
        Bson::Int32(i) => u64::try_from(*i).ok(),
        Bson::Int64(i) => u64::try_from(*i).ok(),
        Bson::Double(d) if *d >= 0.0 && d.fract() == 0.0 => Some(*d as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let fp = FailPoint::delay(&["find"], 100, 3)
            .for_app("a")
            .labels(&["L"]);
        assert_eq!(FailPoint::from_command(&fp.to_command()).unwrap(), Some(fp));
        let close = FailPoint::error(&["ping"], 0, 1).close().always();
        assert_eq!(
            FailPoint::from_command(&close.to_command()).unwrap(),
            Some(close)
        );
    }
}
