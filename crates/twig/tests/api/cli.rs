use crate::helpers::{twig_cmd, TestServer};

#[tokio::test]
async fn operator_commands_work_while_the_server_runs() {
    let (s, _d) = TestServer::start().await;
    let (ok, org, err) = twig_cmd(&s.data_dir, &["orgs", "create", "--name", "Ops"]);
    assert!(ok, "{err}");
    let org = org.trim().to_owned();
    assert!(org.starts_with("org_"));
    let (ok, list, _) = twig_cmd(&s.data_dir, &["orgs", "list"]);
    assert!(ok && list.contains(&org) && list.contains("default"));

    let (ok, secret, err) = twig_cmd(
        &s.data_dir,
        &[
            "keys", "create", "--org", &org, "--name", "t", "--scopes", "read", "--test",
        ],
    );
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    assert!(secret.starts_with("twigsk_test_"));
    assert!(err.contains("will not be shown again"));
    let me = s.get("/api/v1/me", &secret).await;
    assert_eq!(me.status, 200);
    let key_id = me.body["key_id"].as_str().unwrap().to_owned();

    let (ok, listed, _) = twig_cmd(&s.data_dir, &["keys", "list", "--org", &org]);
    assert!(ok && listed.contains(&key_id) && listed.contains("active"));
    assert!(!listed.contains(&secret));

    let (ok, _, err) = twig_cmd(&s.data_dir, &["keys", "revoke", &key_id]);
    assert!(ok, "{err}");
    assert_eq!(
        s.get("/api/v1/me", &secret).await.status,
        401,
        "revocation is immediate"
    );
    let (_, listed, _) = twig_cmd(&s.data_dir, &["keys", "list", "--org", &org]);
    assert!(listed.contains("revoked"));
}

#[test]
fn operator_commands_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = twig_cmd(
        dir.path(),
        &[
            "keys", "create", "--org", "org_nope", "--name", "x", "--scopes", "read",
        ],
    );
    assert!(!ok && err.contains("does not exist"), "{err}");
    let (ok, _, err) = twig_cmd(
        dir.path(),
        &[
            "keys", "create", "--org", "bad", "--name", "x", "--scopes", "read",
        ],
    );
    assert!(!ok && err.contains("invalid"), "{err}");
    let (ok, org, _) = twig_cmd(dir.path(), &["orgs", "create", "--name", "X"]);
    assert!(ok);
    let (ok, _, err) = twig_cmd(
        dir.path(),
        &[
            "keys",
            "create",
            "--org",
            org.trim(),
            "--name",
            "x",
            "--scopes",
            "read,root",
        ],
    );
    assert!(!ok && err.contains("root"), "{err}");
    let (ok, _, _) = twig_cmd(dir.path(), &["keys", "revoke", "key_doesnotexist"]);
    assert!(!ok);
    let (ok, _, err) = twig_cmd(dir.path(), &["orgs", "create", "--name", "  "]);
    assert!(!ok, "{err}");
}

#[test]
fn print_default_config_and_reject_bad_settings() {
    let out = std::process::Command::new(crate::helpers::twig_bin())
        .args(["config", "print-default"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("addr = \"127.0.0.1:8080\""));
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::helpers::twig_bin())
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("TWIG_ADDR", "nowhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("addr"));
    // Settings that only make sense together are refused before anything is opened.
    for (env, says) in [
        (
            vec![("TWIG_DATABASE_URL", "postgres://twig:pw@127.0.0.1:1/twig")],
            "secret_key",
        ),
        (
            vec![("TWIG_RATE_LIMITS__BACKEND", "redis")],
            "rate_limits.redis_url",
        ),
        (
            vec![("TWIG_RATE_LIMITS__BACKEND", "memcached")],
            "rate_limits.backend",
        ),
        (vec![("TWIG_STORAGE__KIND", "s3")], "storage.bucket"),
        (vec![("TWIG_STORAGE__KIND", "ftp")], "storage.kind"),
    ] {
        let out = std::process::Command::new(crate::helpers::twig_bin())
            .args(["serve", "--data-dir"])
            .arg(dir.path())
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert!(!err.contains(":pw@"), "{err}");
    }
}
