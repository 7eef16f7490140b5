//! In-memory collections with the matching real client code needs: equality (including on
//! dotted paths) and the common comparison operators, plus server-side cursors.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use mongodb::bson::{Bson, Document, oid::ObjectId};

/// Documents per namespace (`db.collection`) and open cursors.
#[derive(Default)]
pub(crate) struct Store {
    collections: BTreeMap<String, Vec<Document>>,
    cursors: HashMap<i64, Cursor>,
    next_cursor: i64,
}

pub(crate) struct Cursor {
    pub(crate) namespace: String,
    pub(crate) remaining: Vec<Document>,
}

/// Why a write failed.
pub(crate) enum WriteError {
    DuplicateKey(Bson),
}

impl Store {
    fn namespace(db: &str, collection: &str) -> String {
        format!("{db}.{collection}")
    }

    pub(crate) fn insert_many(&mut self, db: &str, collection: &str, docs: Vec<Document>) {
        for doc in docs {
            let _ = self.insert_one(db, collection, doc);
        }
    }

    pub(crate) fn insert_one(
        &mut self,
        db: &str,
        collection: &str,
        mut doc: Document,
    ) -> Result<(), WriteError> {
        if !doc.contains_key("_id") {
            let mut with_id = Document::new();
            with_id.insert("_id", ObjectId::new());
            with_id.extend(doc);
            doc = with_id;
        }
        let docs = self
            .collections
            .entry(Self::namespace(db, collection))
            .or_default();
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        if docs
            .iter()
            .any(|d| d.get("_id").is_some_and(|other| values_equal(other, &id)))
        {
            return Err(WriteError::DuplicateKey(id));
        }
        docs.push(doc);
        Ok(())
    }

    pub(crate) fn find(&self, db: &str, collection: &str, filter: &Document) -> Vec<Document> {
        self.collections
            .get(&Self::namespace(db, collection))
            .map(|docs| {
                docs.iter()
                    .filter(|d| matches(d, filter))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Applies `apply` to matching documents (all, or the first); returns how many matched.
    pub(crate) fn update(
        &mut self,
        db: &str,
        collection: &str,
        filter: &Document,
        multi: bool,
        apply: impl Fn(&mut Document),
    ) -> usize {
        let Some(docs) = self.collections.get_mut(&Self::namespace(db, collection)) else {
            return 0;
        };
        let mut n = 0;
        for doc in docs.iter_mut().filter(|d| matches(d, filter)) {
            apply(doc);
            n += 1;
            if !multi {
                break;
            }
        }
        n
    }

    pub(crate) fn delete(
        &mut self,
        db: &str,
        collection: &str,
        filter: &Document,
        all: bool,
    ) -> usize {
        let Some(docs) = self.collections.get_mut(&Self::namespace(db, collection)) else {
            return 0;
        };
        let before = docs.len();
        if all {
            docs.retain(|d| !matches(d, filter));
        } else if let Some(i) = docs.iter().position(|d| matches(d, filter)) {
            docs.remove(i);
        }
        before - docs.len()
    }

    pub(crate) fn drop_collection(&mut self, db: &str, collection: &str) {
        self.collections.remove(&Self::namespace(db, collection));
    }

    pub(crate) fn drop_database(&mut self, db: &str) {
        let prefix = format!("{db}.");
        self.collections.retain(|ns, _| !ns.starts_with(&prefix));
    }

    pub(crate) fn databases(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .collections
            .keys()
            .filter_map(|ns| ns.split_once('.'))
            .map(|(db, _)| db.to_owned())
            .collect();
        names.dedup();
        names
    }

    pub(crate) fn collections(&self, db: &str) -> Vec<String> {
        let prefix = format!("{db}.");
        self.collections
            .keys()
            .filter_map(|ns| ns.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }

    /// Splits `docs` into a first batch and, when more remain, an open cursor id (else 0).
    pub(crate) fn open_cursor(
        &mut self,
        namespace: String,
        mut docs: Vec<Document>,
        batch: usize,
    ) -> (Vec<Document>, i64) {
        if docs.len() <= batch {
            return (docs, 0);
        }
        let remaining = docs.split_off(batch);
        self.next_cursor += 1;
        let id = self.next_cursor;
        self.cursors.insert(
            id,
            Cursor {
                namespace,
                remaining,
            },
        );
        (docs, id)
    }

    /// The next batch of a cursor and whether it is still open; `None` if unknown.
    pub(crate) fn get_more(
        &mut self,
        id: i64,
        batch: usize,
    ) -> Option<(String, Vec<Document>, i64)> {
        let cursor = self.cursors.get_mut(&id)?;
        let take = batch.min(cursor.remaining.len());
        let docs: Vec<Document> = cursor.remaining.drain(..take).collect();
        let namespace = cursor.namespace.clone();
        if cursor.remaining.is_empty() {
            self.cursors.remove(&id);
            return Some((namespace, docs, 0));
        }
        Some((namespace, docs, id))
    }

    pub(crate) fn kill_cursor(&mut self, id: i64) -> bool {
        self.cursors.remove(&id).is_some()
    }
}

/// Whether `doc` matches a query filter.
pub(crate) fn matches(doc: &Document, filter: &Document) -> bool {
    filter.iter().all(|(key, condition)| match key.as_str() {
        "$and" => each_filter(condition).all(|f| matches(doc, f)),
        "$or" => each_filter(condition).any(|f| matches(doc, f)),
        "$nor" => !each_filter(condition).any(|f| matches(doc, f)),
        path => field_matches(lookup(doc, path), condition),
    })
}

fn each_filter(condition: &Bson) -> impl Iterator<Item = &Document> {
    condition
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
}

fn lookup<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part)?;
        if parts.peek().is_none() {
            return Some(value);
        }
        current = value.as_document()?;
    }
    None
}

fn field_matches(value: Option<&Bson>, condition: &Bson) -> bool {
    let Some(ops) = condition
        .as_document()
        .filter(|d| d.keys().all(|k| k.starts_with('$')))
    else {
        return value.is_some_and(|v| values_equal(v, condition) || array_contains(v, condition));
    };
    if ops.is_empty() {
        return value.is_some_and(|v| values_equal(v, condition));
    }
    ops.iter().all(|(op, arg)| match op.as_str() {
        "$eq" => value.is_some_and(|v| values_equal(v, arg)),
        "$ne" => !value.is_some_and(|v| values_equal(v, arg)),
        "$in" => arg.as_array().is_some_and(|list| {
            list.iter()
                .any(|a| value.is_some_and(|v| values_equal(v, a)))
        }),
        "$nin" => !arg.as_array().is_some_and(|list| {
            list.iter()
                .any(|a| value.is_some_and(|v| values_equal(v, a)))
        }),
        "$exists" => value.is_some() == arg.as_bool().unwrap_or(true),
        "$gt" => compare(value, arg) == Some(Ordering::Greater),
        "$gte" => matches!(
            compare(value, arg),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "$lt" => compare(value, arg) == Some(Ordering::Less),
        "$lte" => matches!(compare(value, arg), Some(Ordering::Less | Ordering::Equal)),
        _ => false,
    })
}

fn array_contains(value: &Bson, wanted: &Bson) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().any(|i| values_equal(i, wanted)))
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    }
}

/// Equality with numbers compared by value across BSON types, as the server does.
pub(crate) fn values_equal(a: &Bson, b: &Bson) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare(value: Option<&Bson>, arg: &Bson) -> Option<Ordering> {
    let value = value?;
    if let (Some(x), Some(y)) = (number(value), number(arg)) {
        return x.partial_cmp(&y);
    }
    match (value, arg) {
        (Bson::String(x), Bson::String(y)) => Some(x.cmp(y)),
        (Bson::DateTime(x), Bson::DateTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Applies an update document: `$set`/`$unset`/`$inc` operators, or a replacement.
pub(crate) fn apply_update(doc: &mut Document, update: &Document) {
    if !update.keys().any(|k| k.starts_with('$')) {
        let id = doc.get("_id").cloned();
        *doc = update.clone();
        if let Some(id) = id {
            doc.insert("_id", id);
        }
        return;
    }
    for (op, fields) in update {
        let Some(fields) = fields.as_document() else {
            continue;
        };
        for (field, value) in fields {
            match op.as_str() {
                "$set" => {
                    doc.insert(field.clone(), value.clone());
                }
                "$unset" => {
                    doc.remove(field);
                }
                "$inc" => {
                    let current = doc.get(field).and_then(number).unwrap_or(0.0);
                    let delta = number(value).unwrap_or(0.0);
                    let sum = current + delta;
                    let new = match (doc.get(field), value) {
                        (Some(Bson::Double(_)), _) | (_, Bson::Double(_)) => Bson::Double(sum),
                        (Some(Bson::Int64(_)), _) | (_, Bson::Int64(_)) => Bson::Int64(sum as i64),
                        _ => Bson::Int32(sum as i32),
                    };
                    doc.insert(field.clone(), new);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn matching() {
        let d = doc! { "a": 1, "b": { "c": "x" }, "tags": ["p", "q"] };
        assert!(matches(&d, &doc! {}));
        assert!(matches(&d, &doc! { "a": 1.0_f64 }));
        assert!(matches(&d, &doc! { "b.c": "x", "tags": "q" }));
        assert!(matches(&d, &doc! { "a": { "$gte": 1, "$lt": 2 } }));
        assert!(matches(&d, &doc! { "$or": [ { "a": 5 }, { "a": 1 } ] }));
        assert!(!matches(&d, &doc! { "a": 2 }));
        assert!(!matches(&d, &doc! { "missing": { "$exists": true } }));
    }

    #[test]
    fn cursors_batch() {
        let mut store = Store::default();
        let docs: Vec<Document> = (0..5).map(|i| doc! { "i": i }).collect();
        let (first, id) = store.open_cursor("d.c".into(), docs, 2);
        assert_eq!((first.len(), id != 0), (2, true));
        let (_, next, id2) = store.get_more(id, 2).unwrap();
        assert_eq!((next.len(), id2), (2, id));
        let (_, last, id3) = store.get_more(id, 2).unwrap();
        assert_eq!((last.len(), id3), (1, 0));
        assert!(store.get_more(id, 2).is_none());
    }
}
