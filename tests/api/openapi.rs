//! `GET /api/openapi.json` describes exactly the JSON routes the server mounts.

use std::collections::BTreeSet;

use gatehouse::config::AuthMode;
use gatehouse::routes::JSON_ROUTES;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{api_client, spawn_app, spawn_app_with};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn split(allow: &str) -> BTreeSet<String> {
    allow.split(',').map(|m| m.trim().to_uppercase()).collect()
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_mounted_json_routes() {
    let app = spawn_app().await;

    let resp = api_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let documented: BTreeSet<(String, BTreeSet<String>)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let mounted: BTreeSet<(String, BTreeSet<String>)> = JSON_ROUTES
        .iter()
        .map(|(path, allow)| (path.to_string(), split(allow)))
        .collect();
    assert_eq!(documented, mounted);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its answers"
            );
        }
    }
}

#[tokio::test]
async fn every_listed_route_is_mounted_with_exactly_its_methods() {
    // With registration on, so that an anonymous `POST /api/users` reaches its handler too.
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    for (path, allow) in JSON_ROUTES {
        let methods = split(allow);
        let url = app.url(&concrete(path));
        // A method the route does not take: 405 with the listed `Allow`.
        let other = ["PUT", "PATCH", "DELETE", "GET"]
            .into_iter()
            .find(|m| !methods.contains(*m))
            .unwrap();
        let resp = api_client()
            .request(Method::from_bytes(other.as_bytes()).unwrap(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{other} {path}"
        );
        let header = resp.headers()["allow"].to_str().unwrap().to_string();
        assert_eq!(split(&header), methods, "{path}");
        // Each listed method reaches a handler (anonymous: an answer, never 404 or 405).
        for method in &methods {
            let resp = api_client()
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .send()
                .await
                .unwrap();
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&resp.status()),
                "{method} {path}: {}",
                resp.status()
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_part_of_the_token_api() {
    let app = spawn_app_with(|s| s.auth.mode = AuthMode::Session).await;
    let resp = api_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
