//! The CLI's MCP client: plain stateless JSON-RPC POSTs to `/mcp` (no handshake), as simple
//! scripts send them, and the CLI's config file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/mcp";

/// `~/.config/favcrm/config.toml`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Config {
    pub url: Option<String>,
    pub api_key: Option<String>,
}

impl Config {
    pub fn path() -> PathBuf {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("favcrm").join("config.toml")
    }

    pub fn load() -> Self {
        std::fs::read_to_string(Self::path()).ok().and_then(|t| toml::from_str(&t).ok()).unwrap_or_default()
    }

    /// Writes the file readable by its owner only: it holds a key.
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = Self::path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        file.write_all(toml::to_string(self)?.as_bytes())?;
        Ok(path)
    }
}

/// Where the server is and which key to use, resolved from flags, environment and the file.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub api_key: Option<String>,
}

impl Target {
    /// URL: `--url` > FAVCRM_MCP_URL > FAVCRM_API_BASE + /mcp > config file > default.
    /// Key: `--api-key` > FAVCRM_API_KEY > FAVCRM_MCP_TOKEN > config file.
    pub fn resolve(url: Option<String>, api_key: Option<String>) -> Self {
        let config = Config::load();
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let url = url
            .or_else(|| env("FAVCRM_MCP_URL"))
            .or_else(|| env("FAVCRM_API_BASE").map(|b| format!("{}/mcp", b.trim_end_matches('/'))))
            .or(config.url)
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let api_key = api_key.or_else(|| env("FAVCRM_API_KEY")).or_else(|| env("FAVCRM_MCP_TOKEN")).or(config.api_key);
        Self { url, api_key }
    }

    /// The server's base URL (for /healthz): the MCP URL without its last segment.
    pub fn base(&self) -> String {
        self.url.trim_end_matches('/').trim_end_matches("/mcp").to_string()
    }
}

/// A key shown to people: its prefix and last four characters.
pub fn mask(key: &str) -> String {
    if key.len() <= 16 {
        return "…".into();
    }
    format!("{}…{}", &key[..12], &key[key.len() - 4..])
}

pub struct Client {
    http: reqwest::Client,
    target: Target,
}

impl Client {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
        Ok(Self { http, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// One JSON-RPC request; returns `result`, or an error with the server's message.
    pub async fn rpc(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut req = self
            .http
            .post(&self.target.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(key) = &self.target.api_key {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.with_context(|| format!("cannot reach {}", self.target.url))?;
        let status = res.status();
        let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = res.text().await?;
        if status.as_u16() == 401 {
            bail!("the server refused the API key (401): log in with `favcrm login <key>` or set FAVCRM_API_KEY");
        }
        if !status.is_success() {
            let detail =
                serde_json::from_str::<Value>(&text).ok().and_then(|v| v["detail"].as_str().map(str::to_string));
            bail!("{} answered {status}: {}", self.target.url, detail.unwrap_or(text));
        }
        let message: Value = if content_type.starts_with("text/event-stream") {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|v| v.get("id").is_some())
                .context("no response in the event stream")?
        } else {
            serde_json::from_str(&text).context("the server's answer is not JSON")?
        };
        if let Some(error) = message.get("error") {
            bail!("{}", error["message"].as_str().unwrap_or("JSON-RPC error"));
        }
        Ok(message["result"].clone())
    }

    pub async fn tools(&self) -> anyhow::Result<Vec<Value>> {
        let result = self.rpc("tools/list", json!({})).await?;
        Ok(result["tools"].as_array().cloned().unwrap_or_default())
    }

    pub async fn call(&self, name: &str, arguments: Value) -> anyhow::Result<Value> {
        self.rpc("tools/call", json!({ "name": name, "arguments": arguments })).await
    }

    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.target.base());
        self.http.get(url).send().await.is_ok_and(|r| r.status().is_success())
    }
}
