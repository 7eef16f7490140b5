//! Drivers that open with a legacy `isMaster` over OP_QUERY (PyMongo, the shell) get OP_REPLY.

use mongodb::bson::{Document, doc};
use mongodb_oidc_testkit::TestKit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn op_query_handshake_gets_op_reply() {
    let kit = TestKit::start().await.unwrap();
    let mut stream = TcpStream::connect(kit.server().addr()).await.unwrap();
    let mut query = Vec::new();
    doc! { "isMaster": 1, "helloOk": true }
        .to_writer(&mut query)
        .unwrap();
    let mut body = 0i32.to_le_bytes().to_vec();
    body.extend_from_slice(b"admin.$cmd\0");
    body.extend_from_slice(&0i32.to_le_bytes());
    body.extend_from_slice(&(-1i32).to_le_bytes());
    body.extend_from_slice(&query);
    let mut message = Vec::new();
    for field in [16 + body.len() as i32, 42, 0, 2004] {
        message.extend_from_slice(&field.to_le_bytes());
    }
    message.extend_from_slice(&body);
    stream.write_all(&message).await.unwrap();

    let mut header = [0u8; 16];
    stream.read_exact(&mut header).await.unwrap();
    let len = i32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    assert_eq!(
        i32::from_le_bytes(header[8..12].try_into().unwrap()),
        42,
        "responseTo"
    );
    assert_eq!(
        i32::from_le_bytes(header[12..16].try_into().unwrap()),
        1,
        "OP_REPLY"
    );
    let mut rest = vec![0u8; len - 16];
    stream.read_exact(&mut rest).await.unwrap();
    let reply = Document::from_reader(&rest[20..]).unwrap();
    assert_eq!(reply.get_bool("ismaster"), Ok(true));
    assert_eq!(reply.get_i32("maxWireVersion"), Ok(21));
}
