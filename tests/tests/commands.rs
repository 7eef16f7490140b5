//! Enough commands for real client code: CRUD, cursors with batching, counts, aggregation.

mod common;

use common::{code, machine_client};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::FindOptions;
use mongodb_oidc_testkit::TestKit;

async fn client(kit: &TestKit) -> mongodb::Client {
    let token = kit.token();
    machine_client(&kit.uri(), "commands", move |_| token.clone())
        .await
        .0
}

#[tokio::test]
async fn crud_cursors_and_counts() {
    let kit = TestKit::start().await.unwrap();
    let client = client(&kit).await;
    let coll = client.database("shop").collection::<Document>("orders");
    let docs: Vec<Document> = (0..7)
        .map(|i| doc! { "i": i, "kind": if i % 2 == 0 { "even" } else { "odd" } })
        .collect();
    assert_eq!(coll.insert_many(docs).await.unwrap().inserted_ids.len(), 7);

    let options = FindOptions::builder().batch_size(2).build();
    let all: Vec<Document> = coll
        .find(doc! {})
        .with_options(options)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    assert!(
        kit.server().stats().command("getMore") >= 3,
        "batching uses getMore"
    );

    assert_eq!(
        coll.count_documents(doc! { "kind": "even" }).await.unwrap(),
        4
    );
    assert_eq!(coll.estimated_document_count().await.unwrap(), 7);
    let r = coll
        .update_many(doc! { "kind": "odd" }, doc! { "$set": { "seen": true } })
        .await
        .unwrap();
    assert_eq!(r.modified_count, 3);
    assert_eq!(
        coll.count_documents(doc! { "seen": true }).await.unwrap(),
        3
    );
    let r = coll
        .update_one(doc! { "i": 100 }, doc! { "$set": { "new": 1 } })
        .upsert(true)
        .await
        .unwrap();
    assert!(r.upserted_id.is_some());
    assert_eq!(
        coll.delete_many(doc! { "kind": "even" })
            .await
            .unwrap()
            .deleted_count,
        4
    );
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 4);

    let names = client.list_database_names().await.unwrap();
    assert!(names.contains(&"shop".to_owned()));
}

#[tokio::test]
async fn duplicate_ids_are_write_errors() {
    let kit = TestKit::start().await.unwrap();
    let coll = client(&kit).await.database("d").collection::<Document>("c");
    coll.insert_one(doc! { "_id": 1 }).await.unwrap();
    let err = coll.insert_one(doc! { "_id": 1 }).await.unwrap_err();
    assert!(err.to_string().contains("E11000"), "{err}");
}

#[tokio::test]
async fn unknown_commands_get_59() {
    let kit = TestKit::start().await.unwrap();
    let client = client(&kit).await;
    let err = client
        .database("admin")
        .run_command(doc! { "fooBar": 1 })
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(59));
}

#[tokio::test]
async fn build_info_reports_the_wire_version() {
    let kit = TestKit::builder()
        .max_wire_version(25)
        .start()
        .await
        .unwrap();
    let client = client(&kit).await;
    let info = client
        .database("admin")
        .run_command(doc! { "buildInfo": 1 })
        .await
        .unwrap();
    assert!(info.get_str("version").unwrap().starts_with("8.0"));
}
