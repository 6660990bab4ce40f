use crate::helpers::{assert_error, TestServer};
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn bootstrap_key_is_printed_once_and_data_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let key = s.admin().to_owned();
    let out = s.stdout.lock().unwrap().clone();
    assert!(out.contains("will not be shown again"), "{out}");
    assert_eq!(out.matches("twigsk_").count(), 1);
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "Uploads"}),
        )
        .await;
    let ds = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "Keeper", "data_source_ids": [ds]}),
        )
        .await;
    let agent = r.body.clone();
    let status = s.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    let s2 = TestServer::start_in(dir.path(), &[]).await;
    assert!(s2.key.is_none(), "no second bootstrap key");
    assert!(!s2.stdout.lock().unwrap().contains(&key));
    let got = s2
        .get(
            &format!("/api/v1/agents/{}", agent["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, agent);
    assert_eq!(
        s2.get(&format!("/api/v1/data-sources/{ds}"), &key)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn probes_need_no_auth() {
    let (s, _d) = TestServer::start().await;
    let h = s.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "ok");
    let r = s.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn legacy_paths_serve_the_same_api() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let r = s
        .post(
            "/api/agents",
            k,
            json!({"name": "legacy", "data_source_ids": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("/api/v1/agents/{id}"), k).await.status, 200);
    assert_eq!(
        s.get(&format!("/api/agents/{id}"), k).await.body["name"],
        "legacy"
    );
    assert_eq!(s.get("/api/agents?limit=1", k).await.body["limit"], 1);
    assert_eq!(s.get("/api/me", k).await.status, 200);
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes_that_exist() {
    let (s, _d) = TestServer::start().await;
    let doc = s
        .call(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/agents"),
        ("POST", "/api/v1/agents"),
        ("GET", "/api/v1/agents/{id}"),
        ("PUT", "/api/v1/agents/{id}"),
        ("DELETE", "/api/v1/agents/{id}"),
        ("GET", "/api/v1/data-sources"),
        ("POST", "/api/v1/data-sources"),
        ("GET", "/api/v1/data-sources/{id}"),
        ("PUT", "/api/v1/data-sources/{id}"),
        ("DELETE", "/api/v1/data-sources/{id}"),
        ("POST", "/api/v1/data-sources/{id}/sync"),
        ("POST", "/api/v1/data-sources/{id}/test"),
        ("GET", "/api/v1/data-sources/{id}/status"),
        ("GET", "/api/v1/data-sources/{id}/documents"),
        ("POST", "/api/v1/data-sources/{id}/files"),
        ("DELETE", "/api/v1/documents/{id}"),
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("GET", "/api/v1/api-keys/{id}"),
        ("PUT", "/api/v1/api-keys/{id}"),
        ("DELETE", "/api/v1/api-keys/{id}"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users/{id}"),
        ("PUT", "/api/v1/users/{id}"),
        ("DELETE", "/api/v1/users/{id}"),
        ("POST", "/api/v1/semantic-search"),
        ("GET", "/api/v1/kb"),
        ("POST", "/api/v1/kb"),
        ("GET", "/api/v1/kb/{id}"),
        ("PUT", "/api/v1/kb/{id}"),
        ("DELETE", "/api/v1/kb/{id}"),
        ("GET", "/api/v1/kb/{id}/versions"),
        ("GET", "/api/v1/kb/{id}/versions/{version}"),
        ("GET", "/api/v1/webhooks"),
        ("POST", "/api/v1/webhooks"),
        ("GET", "/api/v1/webhooks/{id}"),
        ("PUT", "/api/v1/webhooks/{id}"),
        ("DELETE", "/api/v1/webhooks/{id}"),
        ("POST", "/api/v1/webhooks/{id}/rotate-secret"),
        ("POST", "/api/v1/webhooks/{id}/test"),
        ("GET", "/api/v1/webhooks/{id}/deliveries"),
        (
            "POST",
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        ),
        ("POST", "/api/v1/query"),
        ("GET", "/api/v1/interactions"),
        ("GET", "/api/v1/interactions/{id}"),
        ("POST", "/api/v1/interactions/{id}/feedback"),
        ("GET", "/api/v1/analytics"),
        ("GET", "/api/v1/integrations/slack"),
        ("PUT", "/api/v1/integrations/slack"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(documented, expected);
    // Each documented route is really routed (the fallback says "Unrecognized request URL").
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "x_1");
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.call(m, &concrete, None, None).await;
        let msg = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(
            !msg.starts_with("Unrecognized request URL"),
            "{method} {path} is documented but not routed"
        );
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn openapi_document_says_what_the_server_enforces() {
    let (s, _d) = TestServer::start().await;
    let doc = s
        .call(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    let schemas = &doc["components"]["schemas"];
    // Ids: the parser's own rule, on path parameters and fields alike.
    assert_eq!(schemas["AgentId"]["pattern"], "^agent_[A-Za-z0-9]{1,64}$");
    let get = &doc["paths"]["/api/v1/agents/{id}"]["get"];
    assert_eq!(
        get["parameters"][0]["schema"]["$ref"],
        "#/components/schemas/AgentId"
    );
    assert_eq!(
        schemas["QueryInput"]["properties"]["agent_id"]["$ref"],
        "#/components/schemas/AgentId"
    );
    // Paging bounds.
    let list = doc["paths"]["/api/v1/agents"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |n: &str| {
        list.iter()
            .find(|p| p["name"] == n)
            .map(|p| p["schema"].clone())
            .unwrap()
    };
    assert_eq!(param("limit")["minimum"], 1);
    assert_eq!(param("limit")["maximum"], 200);
    assert_eq!(param("offset")["minimum"], 0);
    // Create bodies require what the server requires; inputs are closed.
    let create = &doc["paths"]["/api/v1/agents"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(create, "#/components/schemas/AgentCreate");
    assert_eq!(
        schemas["AgentCreate"]["required"],
        json!(["name", "data_source_ids"])
    );
    assert_eq!(schemas["AgentInput"]["additionalProperties"], false);
    // The served document names the models this deployment serves.
    assert_eq!(
        schemas["AgentCreate"]["properties"]["model"]["enum"],
        json!(["extractive", null])
    );
    // One `config` schema per creatable type, from the field table.
    let kinds: BTreeSet<String> = twig_core::datasource::DataSourceType::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let mapped: BTreeSet<String> = schemas["DataSourceCreate"]["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(mapped, kinds);
    assert_eq!(schemas["WebsiteConfig"]["required"], json!(["url"]));
    assert_eq!(
        schemas["WebsiteConfig"]["properties"]["max_pages"]["maximum"],
        10_000
    );
    // Errors and streaming.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_some() {
                for status in ["400", "401", "403", "404", "429", "500"] {
                    assert_eq!(
                        op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    let ok = &doc["paths"]["/api/v1/query"]["post"]["responses"]["200"]["content"];
    assert_eq!(
        ok["text/event-stream"]["schema"]["$ref"],
        "#/components/schemas/QueryStreamEvent"
    );
    assert_eq!(
        schemas["ErrorObject"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

#[tokio::test]
async fn cross_org_records_are_invisible() {
    let (s, _d) = TestServer::start().await;
    let a = s.admin().to_owned();
    let (ok, org_b, err) =
        crate::helpers::twig_cmd(&s.data_dir, &["orgs", "create", "--name", "Beta"]);
    assert!(ok, "{err}");
    let org_b = org_b.trim().to_owned();
    let (ok, out, err) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "keys",
            "create",
            "--org",
            &org_b,
            "--name",
            "b",
            "--scopes",
            "read,write,execute,admin",
        ],
    );
    assert!(ok, "{err}");
    let b = out.trim().to_owned();
    assert_eq!(s.get("/api/v1/me", &b).await.body["org_id"], org_b.as_str());

    let ds = s
        .post(
            "/api/v1/data-sources",
            &a,
            json!({"type": "file", "name": "A files"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ag = s
        .post(
            "/api/v1/agents",
            &a,
            json!({"name": "A bot", "data_source_ids": [ds]}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (key_a_id, _) = s.key_with(&["read"]).await;

    for path in [
        format!("/api/v1/agents/{ag}"),
        format!("/api/v1/data-sources/{ds}"),
        format!("/api/v1/api-keys/{key_a_id}"),
    ] {
        assert_error(&s.get(&path, &b).await, 404, "not_found");
        assert_error(&s.delete(&path, &b).await, 404, "not_found");
    }
    assert_error(
        &s.put(
            &format!("/api/v1/agents/{ag}"),
            &b,
            json!({"name": "stolen"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &s.put(
            &format!("/api/v1/data-sources/{ds}"),
            &b,
            json!({"name": "stolen"}),
        )
        .await,
        404,
        "not_found",
    );
    // B cannot point its agent at A's data source, and learns nothing about it.
    let r = s
        .post(
            "/api/v1/agents",
            &b,
            json!({"name": "B", "data_source_ids": [ds]}),
        )
        .await;
    // A named record that is not the caller's is not found, like one that does not exist.
    assert_error(&r, 404, "not_found");
    assert_eq!(s.get("/api/v1/agents", &b).await.body["total"], 0);
    assert_eq!(s.get("/api/v1/data-sources", &b).await.body["total"], 0);
    assert_eq!(s.get("/api/v1/api-keys", &b).await.body["total"], 1);
    // A's records are untouched.
    assert_eq!(
        s.get(&format!("/api/v1/agents/{ag}"), &a).await.body["name"],
        "A bot"
    );
    assert_eq!(
        s.get(&format!("/api/v1/api-keys/{key_a_id}"), &a)
            .await
            .status,
        200
    );
}

/// `[rerank] enabled` with files that are present (and match their pin) but are no
/// cross-encoder: startup stops with a message naming the setting, not a later 500.
#[test]
fn enabled_reranker_that_cannot_load_stops_startup_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("ce");
    std::fs::create_dir(&models).unwrap();
    for name in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::fs::write(models.join(name), b"{}").unwrap();
    }
    let sha = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"; // sha256 of "{}"
    let out = std::process::Command::new(crate::helpers::twig_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .env("TWIG_EMBEDDING__PROVIDER", "none")
        .env("TWIG_RERANK__ENABLED", "true")
        .env("TWIG_RERANK__MODEL_DIR", &models)
        .env("TWIG_RERANK__SHA256", sha)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot load the reranker from") && err.contains("invalid model config"),
        "{err}"
    );
}

#[tokio::test]
async fn metrics_are_off_by_default_and_served_where_configured() {
    let (s, _d) = TestServer::start().await;
    assert_error(&s.get("/metrics", s.admin()).await, 404, "not_found");

    // On their own address: no key asked there, and not on the API port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(
        dir.path(),
        &[
            ("TWIG_METRICS__ENABLED", "true"),
            ("TWIG_METRICS__ADDR", &addr),
        ],
    )
    .await;
    assert_eq!(s.get("/api/v1/agents", s.admin()).await.status, 200);
    assert_error(&s.get("/metrics", s.admin()).await, 404, "not_found");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"twig_http_requests_total{method="GET",route="/api/v1/agents",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE twig_http_request_duration_seconds histogram"),
        "{text}"
    );
}
