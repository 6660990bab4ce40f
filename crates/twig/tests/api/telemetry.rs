//! OTLP trace export: a loopback collector decodes what the server posts with the
//! OpenTelemetry project's own protobuf types.

use crate::helpers::TestServer;
use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One exported span, flattened for assertions.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attrs: HashMap<String, String>,
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// Serves `POST /v1/traces` (OTLP/HTTP, protobuf) and keeps every span received.
async fn collector() -> (String, Arc<Mutex<Vec<Exported>>>) {
    let got: Arc<Mutex<Vec<Exported>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                assert_eq!(headers["x-collector-key"], "k1");
                let req = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for rs in req.resource_spans {
                    let service = rs
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .map(|a| text(&a.value))
                        .unwrap_or_default();
                    for ss in rs.scope_spans {
                        for s in ss.spans {
                            sink.lock().unwrap().push(Exported {
                                service: service.clone(),
                                name: s.name.clone(),
                                kind: s.kind,
                                trace_id: hex::encode(&s.trace_id),
                                span_id: hex::encode(&s.span_id),
                                parent_span_id: hex::encode(&s.parent_span_id),
                                attrs: s
                                    .attributes
                                    .iter()
                                    .map(|a| (a.key.clone(), text(&a.value)))
                                    .collect(),
                            });
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_exported_as_otlp_spans_carrying_request_ids_and_callers_traces() {
    let (endpoint, spans) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(
        dir.path(),
        &[
            ("TWIG_TELEMETRY__OTLP_ENDPOINT", &endpoint),
            ("TWIG_TELEMETRY__SERVICE_NAME", "twig-e2e"),
            ("TWIG_TELEMETRY__OTLP_HEADERS", "{x-collector-key=\"k1\"}"),
            ("TWIG_EMBEDDING__PROVIDER", "none"),
        ],
    )
    .await;
    let key = s.admin().to_owned();
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let missing = s
        .raw(|c, base| {
            c.get(format!("{base}/api/v1/agents/agent_AAAAAAAAAAAAAAAAAAAA"))
                .bearer_auth(&key)
                .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        })
        .await;
    assert_eq!(missing.status, 404);
    let missing_rid = missing.headers["x-request-id"].to_str().unwrap().to_owned();
    let org = s.get("/api/v1/me", &key).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = s
        .post(
            "/api/v1/semantic-search",
            &key,
            json!({"query": "refund policy", "org_id": org}),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let search_rid = found.headers["x-request-id"].to_str().unwrap().to_owned();
    // SIGTERM: the batch still buffered must be exported before the process exits.
    assert!(s.stop().success());

    let spans = spans.lock().unwrap().clone();
    let by_rid = |rid: &str| {
        spans
            .iter()
            .find(|s| s.attrs.get("request_id").map(String::as_str) == Some(rid))
            .unwrap_or_else(|| panic!("no span for {rid} in {spans:#?}"))
            .clone()
    };
    let req = by_rid(&missing_rid);
    assert_eq!(req.service, "twig-e2e");
    assert_eq!(req.name, "GET /api/v1/agents/{id}");
    assert_eq!(req.kind, SpanKind::Server as i32);
    assert_eq!(req.attrs["http.route"], "/api/v1/agents/{id}");
    assert_eq!(req.attrs["http.response.status_code"], "404");
    assert_eq!(
        req.attrs["url.path"],
        "/api/v1/agents/agent_AAAAAAAAAAAAAAAAAAAA"
    );
    assert_eq!(
        (req.trace_id.as_str(), req.parent_span_id.as_str()),
        (caller_trace, caller_span),
        "the caller's traceparent is the parent"
    );

    let req = by_rid(&search_rid);
    assert_eq!(req.name, "POST /api/v1/semantic-search");
    assert_ne!(
        req.trace_id, caller_trace,
        "a request without traceparent starts a trace"
    );
    assert!(req.parent_span_id.is_empty(), "{req:?}");
    let search = spans
        .iter()
        .find(|s| s.name == "search" && s.trace_id == req.trace_id)
        .unwrap_or_else(|| panic!("no search span in {spans:#?}"));
    assert_eq!(search.parent_span_id, req.span_id);
    assert_eq!(search.attrs["mode"], "lexical");
}
