//! Tests of the check-and-set write's self-recognition (compiled under #[cfg(test)] only, from
//! doc.rs), against a fake OpenBao: a write that landed but whose answer was lost is ours, a
//! document that holds someone else's data is not.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::sensitive::Sensitive;

const DOC: &str = "/v1/aegisctl/data/lock";

fn client(server: &MockServer) -> BaoClient {
    BaoClient::new(
        &server.uri(),
        Sensitive::new("test-token".to_owned()),
        None,
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(5),
    )
    .expect("client")
}

/// The server answers every write with `status` and `errors`, and reads back `stored`.
async fn server(status: u16, errors: &str, stored: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DOC))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({ "errors": [errors] })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DOC))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "data": stored, "metadata": { "version": 4 } }
        })))
        .mount(&server)
        .await;
    server
}

fn ours() -> Value {
    json!({ "holder": "ci", "run": "0123456789abcdef" })
}

#[tokio::test]
async fn a_write_that_landed_but_answered_500_is_ours() {
    let server = server(500, "internal error", ours()).await;
    let version = write(&client(&server), "aegisctl", "lock", ours(), 3).await;
    assert_eq!(version.ok(), Some(4));
}

#[tokio::test]
async fn a_retried_write_that_had_landed_is_not_a_conflict() {
    let errors = "check-and-set parameter did not match the current version";
    let server = server(400, errors, ours()).await;
    let version = write(&client(&server), "aegisctl", "lock", ours(), 3).await;
    assert_eq!(version.ok(), Some(4));
}

#[tokio::test]
async fn someone_elses_data_is_a_conflict() {
    let errors = "check-and-set parameter did not match the current version";
    let theirs = json!({ "holder": "ci", "run": "fedcba9876543210" });
    let server = server(400, errors, theirs).await;
    let result = write(&client(&server), "aegisctl", "lock", ours(), 3).await;
    assert!(
        matches!(result, Err(DocError::Conflict { expected: 3, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_500_that_stored_nothing_stays_an_error() {
    let server = server(500, "internal error", json!({ "holder": "" })).await;
    let result = write(&client(&server), "aegisctl", "lock", ours(), 3).await;
    assert!(
        matches!(&result, Err(DocError::Bao(e)) if e.status() == Some(500)),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_same_data_at_the_expected_version_is_not_a_new_write() {
    // The document already held these data at version 4 before: nothing proves our write landed.
    let errors = "check-and-set parameter did not match the current version";
    let server = server(400, errors, ours()).await;
    let result = write(&client(&server), "aegisctl", "lock", ours(), 4).await;
    assert!(
        matches!(result, Err(DocError::Conflict { .. })),
        "{result:?}"
    );
}
