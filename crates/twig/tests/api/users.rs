use crate::helpers::{assert_error, twig_cmd, TestServer};
use serde_json::{json, Value};

async fn new_user(s: &TestServer, email: &str, role: &str) -> String {
    let r = s
        .post(
            "/api/v1/users",
            s.admin(),
            json!({"email": email, "name": "U", "role": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates a key for `user`; returns the response.
async fn user_key(s: &TestServer, user: &str, scopes: &[&str]) -> crate::helpers::Resp {
    s.post(
        "/api/v1/api-keys",
        s.admin(),
        json!({"name": "u", "scopes": scopes, "user_id": user}),
    )
    .await
}

fn secret(r: &crate::helpers::Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_crud_over_http() {
    let (s, _d) = TestServer::start().await;
    let r = s
        .post(
            "/api/v1/users",
            s.admin(),
            json!({"email": " John.Doe@Example.com ", "name": "John Doe", "role": "train"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("usr_"), "{id}");
    assert_eq!(r.body["email"], "John.Doe@Example.com");
    assert_eq!(r.body["name"], "John Doe");
    assert_eq!(r.body["role"], "train");
    assert!(r.body["created_at"].is_string());
    assert!(r.body.get("org_id").is_none());

    let got = s.get(&format!("/api/v1/users/{id}"), s.admin()).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);

    let second = new_user(&s, "second@example.com", "readonly").await;
    let list = s.get("/api/v1/users?limit=1&offset=1", s.admin()).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["limit"], 1);
    assert_eq!(list.body["offset"], 1);
    assert_eq!(list.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["users"][0]["id"], second.as_str());
    assert_error(
        &s.get("/api/v1/users?limit=0", s.admin()).await,
        400,
        "invalid_request",
    );

    let up = s
        .put(
            &format!("/api/v1/users/{id}"),
            s.admin(),
            json!({"role": "configure", "name": "J. Doe"}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["role"], "configure");
    assert_eq!(up.body["name"], "J. Doe");
    assert_eq!(up.body["email"], "John.Doe@Example.com", "unchanged");
    assert_eq!(
        s.get(&format!("/api/v1/users/{id}"), s.admin()).await.body["role"],
        "configure"
    );

    let del = s.delete(&format!("/api/v1/users/{id}"), s.admin()).await;
    assert_eq!(del.status, 204);
    assert_error(
        &s.get(&format!("/api/v1/users/{id}"), s.admin()).await,
        404,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("/api/v1/users/{id}"), s.admin()).await,
        404,
        "not_found",
    );
    assert_eq!(s.get("/api/v1/users", s.admin()).await.body["total"], 1);
}

#[tokio::test]
async fn user_input_is_validated_and_changes_nothing() {
    let (s, _d) = TestServer::start().await;
    let field_error = |r: &crate::helpers::Resp, field: &str| {
        assert_error(r, 400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.text);
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "x", "role": "admin"}), "email"),
        (json!({"email": "a@b.co"}), "role"),
        (json!({"email": "not-an-email", "role": "admin"}), "email"),
        (json!({"email": "a@localhost", "role": "admin"}), "email"),
        (json!({"email": "a b@x.co", "role": "admin"}), "email"),
        (json!({"email": "a@b.co", "role": "root"}), "role"),
        (
            json!({"email": "a@b.co", "role": "admin", "name": "  "}),
            "name",
        ),
        (json!({"email": 5, "role": "admin"}), "email"),
    ];
    for (body, field) in cases {
        let r = s.post("/api/v1/users", s.admin(), body.clone()).await;
        field_error(&r, field);
    }
    let r = s
        .post(
            "/api/v1/users",
            s.admin(),
            json!({"email": "a@b.co", "role": "admin", "password": "x"}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(s.get("/api/v1/users", s.admin()).await.body["total"], 0);

    // Email is unique per org whatever its case; the API reference has no 409, so 400 on `email`.
    let id = new_user(&s, "dup@example.com", "readonly").await;
    let r = s
        .post(
            "/api/v1/users",
            s.admin(),
            json!({"email": "DUP@Example.COM", "role": "admin"}),
        )
        .await;
    field_error(&r, "email");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{}",
        r.text
    );
    let other = new_user(&s, "other@example.com", "readonly").await;
    let r = s
        .put(
            &format!("/api/v1/users/{other}"),
            s.admin(),
            json!({"email": "Dup@example.com"}),
        )
        .await;
    field_error(&r, "email");
    let r = s
        .put(
            &format!("/api/v1/users/{id}"),
            s.admin(),
            json!({"role": "superuser"}),
        )
        .await;
    field_error(&r, "role");
    assert_eq!(
        s.get(&format!("/api/v1/users/{id}"), s.admin()).await.body["role"],
        "readonly",
        "a refused update changes nothing"
    );
    // Changing the case of one's own email is fine.
    let r = s
        .put(
            &format!("/api/v1/users/{id}"),
            s.admin(),
            json!({"email": "Dup@Example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_error(
        &s.get("/api/v1/users/agent_abc", s.admin()).await,
        400,
        "invalid_request",
    );
    assert_error(
        &s.get("/api/v1/users/usr_doesnotexist", s.admin()).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn users_need_admin_scope_and_stay_in_their_org() {
    let (s, _d) = TestServer::start().await;
    let id = new_user(&s, "a@example.com", "admin").await;
    let (_, rw) = s.key_with(&["read", "write", "execute"]).await;
    assert_error(&s.get("/api/v1/users", &rw).await, 403, "forbidden");
    assert_error(
        &s.post(
            "/api/v1/users",
            &rw,
            json!({"email": "b@example.com", "role": "admin"}),
        )
        .await,
        403,
        "forbidden",
    );

    let (ok, org, err) = twig_cmd(&s.data_dir, &["orgs", "create", "--name", "Other"]);
    assert!(ok, "{err}");
    let org = org.trim().to_owned();
    let (ok, other_admin, err) = twig_cmd(
        &s.data_dir,
        &[
            "keys", "create", "--org", &org, "--name", "o", "--scopes", "admin",
        ],
    );
    assert!(ok, "{err}");
    let other_admin = other_admin.trim().to_owned();
    let path = format!("/api/v1/users/{id}");
    assert_error(&s.get(&path, &other_admin).await, 404, "not_found");
    assert_error(
        &s.put(&path, &other_admin, json!({"role": "readonly"}))
            .await,
        404,
        "not_found",
    );
    assert_error(&s.delete(&path, &other_admin).await, 404, "not_found");
    assert_eq!(s.get("/api/v1/users", &other_admin).await.body["total"], 0);
    // The same email may exist in another org.
    let r = s
        .post(
            "/api/v1/users",
            &other_admin,
            json!({"email": "a@example.com", "role": "readonly"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // A key cannot be given to another org's user.
    let r = s
        .post(
            "/api/v1/api-keys",
            &other_admin,
            json!({"name": "x", "scopes": ["read"], "user_id": id}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    assert_eq!(r.body["error"]["details"]["resource"], "user");
    assert_eq!(
        s.get(&path, s.admin()).await.body["role"],
        "admin",
        "untouched"
    );
}

#[tokio::test]
async fn roles_gate_the_scopes_of_a_users_keys() {
    let (s, _d) = TestServer::start().await;
    let allowed: [(&str, &[&str], &[&str]); 4] = [
        ("readonly", &["read", "execute"], &["write", "admin"]),
        ("train", &["read", "execute"], &["write", "admin"]),
        ("configure", &["read", "write", "execute"], &["admin"]),
        ("admin", &["read", "write", "execute", "admin"], &[]),
    ];
    for (role, ok_scopes, refused) in allowed {
        let u = new_user(&s, &format!("{role}@example.com"), role).await;
        let r = user_key(&s, &u, ok_scopes).await;
        assert_eq!(r.status, 201, "{role}: {}", r.text);
        assert_eq!(r.body["user_id"], u.as_str());
        for extra in refused {
            let mut scopes = ok_scopes.to_vec();
            scopes.push(extra);
            let r = user_key(&s, &u, &scopes).await;
            let msg = assert_error(&r, 403, "forbidden");
            assert!(
                msg.contains(role) && msg.contains(&format!("refused: {extra}")),
                "{msg}"
            );
        }
    }
    // Only the allowed keys were created (plus the bootstrap key).
    assert_eq!(s.get("/api/v1/api-keys", s.admin()).await.body["total"], 5);
    // A user's key works with its scopes and carries its owner.
    let u = new_user(&s, "worker@example.com", "configure").await;
    let r = user_key(&s, &u, &["read", "write"]).await;
    let key_id = r.body["id"].as_str().unwrap().to_owned();
    let k = secret(&r);
    let a = s
        .post(
            "/api/v1/agents",
            &k,
            json!({"name": "a", "data_source_ids": []}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let got = s
        .get(&format!("/api/v1/api-keys/{key_id}"), s.admin())
        .await;
    assert_eq!(got.body["user_id"], u.as_str());

    for (body, field) in [(
        json!({"name": "x", "scopes": ["read"], "user_id": "nope"}),
        "user_id",
    )] {
        let r = s.post("/api/v1/api-keys", s.admin(), body).await;
        assert_error(&r, 400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.text);
    }
    // A well-formed user id that names no user of the org is not found.
    let r = s
        .post(
            "/api/v1/api-keys",
            s.admin(),
            json!({"name": "x", "scopes": ["read"], "user_id": "usr_missing"}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    // Keys that belong to no user are not bounded by a role.
    let r = s
        .post(
            "/api/v1/api-keys",
            s.admin(),
            json!({"name": "svc", "scopes": ["admin"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["user_id"], Value::Null);
}

#[tokio::test]
async fn lowering_a_role_narrows_the_users_keys_at_once() {
    let (s, _d) = TestServer::start().await;
    let u = new_user(&s, "c@example.com", "configure").await;
    let r = user_key(&s, &u, &["read", "write"]).await;
    let rw_id = r.body["id"].as_str().unwrap().to_owned();
    let rw = secret(&r);
    let w = secret(&user_key(&s, &u, &["write"]).await);
    let body = json!({"name": "a", "data_source_ids": []});
    assert_eq!(
        s.post("/api/v1/agents", &rw, body.clone()).await.status,
        201
    );
    assert_eq!(s.post("/api/v1/agents", &w, body.clone()).await.status, 201);

    let r = s
        .put(
            &format!("/api/v1/users/{u}"),
            s.admin(),
            json!({"role": "readonly"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The read+write key keeps read only; the write-only key has nothing left and is revoked.
    assert_error(
        &s.post("/api/v1/agents", &rw, body.clone()).await,
        403,
        "forbidden",
    );
    assert_eq!(s.get("/api/v1/agents", &rw).await.status, 200);
    assert_error(&s.get("/api/v1/me", &w).await, 401, "unauthorized");
    let k = s.get(&format!("/api/v1/api-keys/{rw_id}"), s.admin()).await;
    assert_eq!(k.body["scopes"], json!(["read"]));
    assert_eq!(s.get("/api/v1/api-keys", s.admin()).await.body["total"], 2);
    // Raising the role again does not give scopes back.
    s.put(
        &format!("/api/v1/users/{u}"),
        s.admin(),
        json!({"role": "admin"}),
    )
    .await;
    assert_error(&s.post("/api/v1/agents", &rw, body).await, 403, "forbidden");
}

#[tokio::test]
async fn removing_a_user_revokes_their_keys() {
    let (s, _d) = TestServer::start().await;
    let u = new_user(&s, "gone@example.com", "admin").await;
    let k1 = secret(&user_key(&s, &u, &["read"]).await);
    let k2 = secret(&user_key(&s, &u, &["admin"]).await);
    let (_, unowned) = s.key_with(&["read"]).await;
    assert_eq!(s.get("/api/v1/me", &k1).await.status, 200);
    assert_eq!(s.get("/api/v1/users", &k2).await.status, 200);
    let del = s.delete(&format!("/api/v1/users/{u}"), s.admin()).await;
    assert_eq!(del.status, 204, "{}", del.text);
    for k in [&k1, &k2] {
        let r = s.get("/api/v1/me", k).await;
        let msg = assert_error(&r, 401, "unauthorized");
        assert!(msg.contains("revoked"), "{msg}");
    }
    assert_eq!(s.get("/api/v1/me", &unowned).await.status, 200);
    assert_eq!(
        s.get("/api/v1/api-keys", s.admin()).await.body["total"],
        2,
        "bootstrap and unowned keys remain"
    );
}

#[tokio::test]
async fn operators_create_user_keys_within_the_role_too() {
    let (s, _d) = TestServer::start().await;
    let u = new_user(&s, "ops@example.com", "readonly").await;
    let org = s.get("/api/v1/me", s.admin()).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) = twig_cmd(
        &s.data_dir,
        &[
            "keys",
            "create",
            "--org",
            &org,
            "--name",
            "x",
            "--scopes",
            "read,write",
            "--user",
            &u,
        ],
    );
    assert!(!ok && err.contains("refused: write"), "{err}");
    let (ok, secret, err) = twig_cmd(
        &s.data_dir,
        &[
            "keys", "create", "--org", &org, "--name", "x", "--scopes", "read", "--user", &u,
        ],
    );
    assert!(ok, "{err}");
    let me = s.get("/api/v1/me", secret.trim()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user_id"], u.as_str());
    assert_eq!(me.body["role"], "readonly");
    assert_eq!(
        s.get("/api/v1/me", s.admin()).await.body["user_id"],
        Value::Null
    );
}
