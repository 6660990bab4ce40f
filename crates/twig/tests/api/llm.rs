//! `[llm]` is validated at startup: a bad provider stops `serve` before it listens.

use crate::helpers::{twig_bin, TestServer};

#[test]
fn serve_refuses_a_provider_without_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("twig.toml"),
        "[llm.providers.claude]\nkind = \"anthropic\"\napi_key_env = \"TWIG_TEST_NO_SUCH_KEY\"\nmodels = [\"claude-sonnet-4-5\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(twig_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .current_dir(dir.path())
        .env_remove("TWIG_TEST_NO_SUCH_KEY")
        .env("TWIG_EMBEDDING__PROVIDER", "none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("llm.providers.claude.api_key_env")
            && err.contains("`TWIG_TEST_NO_SUCH_KEY` is not set"),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");

    std::fs::write(
        dir.path().join("twig.toml"),
        "[llm]\ndefault_model = \"gpt-9\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(twig_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .current_dir(dir.path())
        .env("TWIG_EMBEDDING__PROVIDER", "none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("llm.default_model") && err.contains("gpt-9"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_starts_with_a_keyless_local_provider() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("twig.toml"),
        "[llm.providers.ollama]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nupstream = { \"llama\" = \"llama3.2:3b\" }\n",
    )
    .unwrap();
    let srv = TestServer::start_in(dir.path(), &[("TWIG_LLM__DEFAULT_MODEL", "llama")]).await;
    let r = srv.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
}
