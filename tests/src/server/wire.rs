//! The MongoDB wire protocol: OP_MSG (kind-0 and kind-1 sections, optional CRC-32C) and, for
//! drivers that open with a legacy handshake, OP_QUERY on `<db>.$cmd` answered with OP_REPLY.

use mongodb::bson::{Bson, Document};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const OP_REPLY: i32 = 1;
const OP_QUERY: i32 = 2004;
const OP_MSG: i32 = 2013;
const HEADER_LEN: usize = 16;
/// `maxMessageSizeBytes` advertised in the handshake; larger messages are protocol errors.
pub(crate) const MAX_MESSAGE_SIZE: usize = 48_000_000;

const CHECKSUM_PRESENT: u32 = 1;
const MORE_TO_COME: u32 = 1 << 1;
/// Flag bits 0-15 are "required": a receiver must reject bits it does not know.
const KNOWN_REQUIRED_FLAGS: u32 = CHECKSUM_PRESENT | MORE_TO_COME;

/// A command received from a client.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) request_id: i32,
    /// The command, with kind-1 document sequences merged in as arrays and `$db` set.
    pub(crate) command: Document,
    pub(crate) legacy: bool,
    /// OP_MSG `moreToCome`: the client expects no reply.
    pub(crate) more_to_come: bool,
}

/// Why a message could not be read; the connection is closed after any of these.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("message length {0} is out of range")]
    Length(i64),
    #[error("unsupported opcode {0}")]
    OpCode(i32),
    #[error("unknown required OP_MSG flag bits {0:#x}")]
    Flags(u32),
    #[error("CRC-32C checksum mismatch")]
    Checksum,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("invalid BSON: {0}")]
    Bson(String),
}

/// Reads one message; `Ok(None)` when the client closed the connection cleanly.
pub(crate) async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Request>, WireError> {
    let mut header = [0u8; HEADER_LEN];
    match reader.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let raw_len = i32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
    let request_id = i32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let op_code = i32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    let len = usize::try_from(raw_len)
        .ok()
        .filter(|l| (HEADER_LEN + 5..=MAX_MESSAGE_SIZE).contains(l))
        .ok_or(WireError::Length(i64::from(raw_len)))?;
    let mut body = vec![0u8; len - HEADER_LEN];
    reader.read_exact(&mut body).await?;
    let request = match op_code {
        OP_MSG => parse_msg(request_id, &header, &body)?,
        OP_QUERY => parse_query(request_id, &body)?,
        other => return Err(WireError::OpCode(other)),
    };
    Ok(Some(request))
}

fn parse_msg(request_id: i32, header: &[u8], body: &[u8]) -> Result<Request, WireError> {
    let flags = u32::from_le_bytes(body[0..4].try_into().expect("4 bytes"));
    if flags & 0xFFFF & !KNOWN_REQUIRED_FLAGS != 0 {
        return Err(WireError::Flags(flags & 0xFFFF & !KNOWN_REQUIRED_FLAGS));
    }
    let mut end = body.len();
    if flags & CHECKSUM_PRESENT != 0 {
        end = end
            .checked_sub(4)
            .ok_or(WireError::Malformed("no room for the checksum"))?;
        let expected = u32::from_le_bytes(body[end..].try_into().expect("4 bytes"));
        let actual = crc32c(&[header, &body[..end]]);
        if expected != actual {
            return Err(WireError::Checksum);
        }
    }
    let mut command: Option<Document> = None;
    let mut sequences: Vec<(String, Vec<Bson>)> = Vec::new();
    let mut pos = 4;
    while pos < end {
        let kind = body[pos];
        pos += 1;
        match kind {
            0 => {
                let (doc, used) = read_document(&body[pos..end])?;
                if command.replace(doc).is_some() {
                    return Err(WireError::Malformed("more than one kind-0 section"));
                }
                pos += used;
            }
            1 => {
                let (identifier, docs, used) = read_sequence(&body[pos..end])?;
                sequences.push((identifier, docs));
                pos += used;
            }
            _ => return Err(WireError::Malformed("unknown section kind")),
        }
    }
    let mut command = command.ok_or(WireError::Malformed("no kind-0 section"))?;
    for (identifier, docs) in sequences {
        command.insert(identifier, Bson::Array(docs));
    }
    Ok(Request {
        request_id,
        command,
        legacy: false,
        more_to_come: flags & MORE_TO_COME != 0,
    })
}

/// Reads an int32 length prefix that counts itself and must fit in `bytes`.
fn length_prefix(bytes: &[u8], what: &'static str) -> Result<usize, WireError> {
    bytes
        .get(0..4)
        .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| *l >= 5 && *l <= bytes.len())
        .ok_or(WireError::Malformed(what))
}

fn read_document(bytes: &[u8]) -> Result<(Document, usize), WireError> {
    let len = length_prefix(bytes, "bad document length")?;
    let doc = Document::from_reader(&bytes[..len]).map_err(|e| WireError::Bson(e.to_string()))?;
    Ok((doc, len))
}

fn read_sequence(bytes: &[u8]) -> Result<(String, Vec<Bson>, usize), WireError> {
    let size = length_prefix(bytes, "bad document sequence size")?;
    let section = &bytes[4..size];
    let nul = section
        .iter()
        .position(|b| *b == 0)
        .ok_or(WireError::Malformed("identifier"))?;
    let identifier = String::from_utf8(section[..nul].to_vec())
        .map_err(|_| WireError::Malformed("identifier is not UTF-8"))?;
    let mut docs = Vec::new();
    let mut pos = nul + 1;
    while pos < section.len() {
        let (doc, used) = read_document(&section[pos..])?;
        docs.push(Bson::Document(doc));
        pos += used;
    }
    Ok((identifier, docs, size))
}

fn parse_query(request_id: i32, body: &[u8]) -> Result<Request, WireError> {
    let rest = body
        .get(4..)
        .ok_or(WireError::Malformed("short OP_QUERY"))?;
    let nul = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or(WireError::Malformed("collection name"))?;
    let collection =
        std::str::from_utf8(&rest[..nul]).map_err(|_| WireError::Malformed("collection name"))?;
    let db = collection
        .strip_suffix(".$cmd")
        .ok_or(WireError::Malformed(
            "OP_QUERY is only supported for commands",
        ))?
        .to_owned();
    let query_start = nul + 1 + 8; // numberToSkip, numberToReturn
    let (mut command, _) = read_document(
        rest.get(query_start..)
            .ok_or(WireError::Malformed("query"))?,
    )?;
    if let Some(Bson::Document(inner)) = command.remove("$query") {
        command = inner;
    }
    command.insert("$db", db);
    Ok(Request {
        request_id,
        command,
        legacy: true,
        more_to_come: false,
    })
}

/// Writes a reply in the form the request came in.
pub(crate) async fn write_reply<W: AsyncWrite + Unpin>(
    writer: &mut W,
    request: &Request,
    reply_id: i32,
    reply: &Document,
) -> std::io::Result<()> {
    let mut doc = Vec::new();
    reply.to_writer(&mut doc).map_err(std::io::Error::other)?;
    let mut body = Vec::with_capacity(doc.len() + 24);
    let op_code = if request.legacy {
        body.extend_from_slice(&8i32.to_le_bytes()); // responseFlags: AwaitCapable
        body.extend_from_slice(&0i64.to_le_bytes()); // cursorID
        body.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
        body.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
        OP_REPLY
    } else {
        body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
        body.push(0); // kind-0 section
        OP_MSG
    };
    body.extend_from_slice(&doc);
    let len = i32::try_from(HEADER_LEN + body.len()).map_err(std::io::Error::other)?;
    let mut message = Vec::with_capacity(HEADER_LEN + body.len());
    for field in [len, reply_id, request.request_id, op_code] {
        message.extend_from_slice(&field.to_le_bytes());
    }
    message.extend_from_slice(&body);
    writer.write_all(&message).await?;
    writer.flush().await
}

/// CRC-32C (Castagnoli), as OP_MSG checksums use it, over several slices.
pub(crate) fn crc32c(parts: &[&[u8]]) -> u32 {
    const POLY: u32 = 0x82F6_3B78;
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut crc = i as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
            *entry = crc;
        }
        table
    });
    let mut crc = !0u32;
    for part in parts {
        for byte in *part {
            crc = table[((crc ^ u32::from(*byte)) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn crc32c_known_value() {
        // RFC 3720 B.4 test vector: 32 bytes of zeros.
        assert_eq!(crc32c(&[&[0u8; 32]]), 0x8A91_36AA);
        assert_eq!(crc32c(&[b"123456789"]), 0xE306_9283);
    }

    fn msg(flags: u32, sections: &[u8], checksum: bool) -> Vec<u8> {
        let mut body = flags.to_le_bytes().to_vec();
        body.extend_from_slice(sections);
        let len = (HEADER_LEN + body.len() + if checksum { 4 } else { 0 }) as i32;
        let mut m = Vec::new();
        for f in [len, 7, 0, OP_MSG] {
            m.extend_from_slice(&f.to_le_bytes());
        }
        m.extend_from_slice(&body);
        if checksum {
            let c = crc32c(&[&m]);
            m.extend_from_slice(&c.to_le_bytes());
        }
        m
    }

    fn bytes(d: &Document) -> Vec<u8> {
        let mut v = Vec::new();
        d.to_writer(&mut v).unwrap();
        v
    }

    #[tokio::test]
    async fn reads_kind_one_sections_and_checksums() {
        let mut sections = vec![0];
        sections.extend(bytes(&doc! { "insert": "c", "$db": "d" }));
        let docs: Vec<u8> = [bytes(&doc! {"a": 1}), bytes(&doc! {"a": 2})].concat();
        sections.push(1);
        sections.extend(((4 + 10 + docs.len()) as i32).to_le_bytes());
        sections.extend(b"documents\0");
        sections.extend(docs);
        let m = msg(CHECKSUM_PRESENT, &sections, true);
        let req = read_request(&mut m.as_slice()).await.unwrap().unwrap();
        assert_eq!(req.command.get_array("documents").unwrap().len(), 2);

        let mut corrupted = m.clone();
        let last = corrupted.len() - 5;
        corrupted[last] ^= 1;
        assert!(read_request(&mut corrupted.as_slice()).await.is_err());
    }

    #[tokio::test]
    async fn rejects_unknown_required_flags() {
        let mut sections = vec![0];
        sections.extend(bytes(&doc! { "ping": 1 }));
        let m = msg(1 << 5, &sections, false);
        assert!(matches!(
            read_request(&mut m.as_slice()).await,
            Err(WireError::Flags(_))
        ));
    }
}
