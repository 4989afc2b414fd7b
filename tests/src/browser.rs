//! A real headless Chromium through chromedriver, for the pages and the web components: the
//! session, Chrome's DevTools commands (print media), the console log, axe-core, screenshots.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{wd::WebDriverCompatibleCommand, Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub struct Chromium {
    driver: Child,
    pub client: Client,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh profile that downloads into `downloads` without asking and keeps the console log.
pub async fn chromium(downloads: &Path, profile: &Path) -> Chromium {
    let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let driver = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {driver_path} ({e}): install Debian's chromium and chromium-driver (`bash infra/test.sh` does)")
        });
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let capabilities = json!({
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1100,1400",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(capabilities)
        .connect(&url)
        .await
        .expect("a Chromium session through chromedriver");
    Chromium { driver, client }
}

/// A chromedriver extension command: `POST /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Extension {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (lambda_http::http::Method, Option<String>) {
        (lambda_http::http::Method::POST, Some(self.body.to_string()))
    }
}

/// Runs a DevTools command, e.g. `Emulation.setEmulatedMedia`.
pub async fn devtools(client: &Client, command: &str, params: Value) -> Value {
    client
        .issue_cmd(Extension {
            path: "goog/cdp/execute",
            body: json!({ "cmd": command, "params": params }),
        })
        .await
        .unwrap_or_else(|e| panic!("DevTools {command}: {e}"))
}

/// The console messages logged since the last call, as "LEVEL message".
pub async fn console(client: &Client) -> Vec<String> {
    let entries = client
        .issue_cmd(Extension {
            path: "se/log",
            body: json!({ "type": "browser" }),
        })
        .await
        .expect("chromedriver's browser log");
    entries
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| format!("{} {}", e["level"].as_str().unwrap_or(""), e["message"]))
                .collect()
        })
        .unwrap_or_default()
}

/// axe-core's serious and critical violations on the page as it is now, shadow roots included.
pub async fn accessibility_violations(client: &Client) -> Vec<String> {
    let path = std::env::var("AXE_CORE").unwrap_or_else(|_| {
        format!(
            "{}/../.tools/node/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read axe-core at {path} ({e}): `source infra/emulators.sh; need_chromium` installs it")
    });
    client.execute(&axe, vec![]).await.expect("axe-core loads");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ': ' + v.help + ' at ' + v.nodes.map((n) => JSON.stringify(n.target)).join(', '))))
               .catch((e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(result).unwrap_or_default()
}

/// Saves what the browser shows as `target/ui-screenshots/<name>.png`.
pub async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(png) = client.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

pub async fn wait_for_file(path: &Path) -> String {
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} was not downloaded within 10 s", path.display());
}

/// Waits up to 10 s for `script` (a JavaScript expression) to be truthy; answers its last value.
pub async fn eventually(client: &Client, script: &str) -> Value {
    let mut value = Value::Null;
    for _ in 0..100 {
        value = client
            .execute(&format!("return {script};"), vec![])
            .await
            .unwrap_or(Value::Null);
        if !(value.is_null() || value == false || value == "" || value == json!([])) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still not true after 10 s: {script} (last: {value})");
}

pub fn tempdir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../target/tmp/{name}-{}",
        backup_codes::domain::codes::random_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // Chromium will not start with a profile path that climbs with `..`.
    dir.canonicalize().unwrap()
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

pub async fn js(client: &Client, script: &str) -> Value {
    client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

pub async fn no_violations(client: &Client, state: &str) {
    let violations = accessibility_violations(client).await;
    assert!(violations.is_empty(), "axe-core, {state}: {violations:#?}");
    println!("axe-core {state}: no serious or critical violation");
}

/// Console messages that are not the API's expected refusals (a 401 for a wrong code is a
/// "failed resource" to Chrome): CSP violations and script errors must never appear.
pub async fn unexpected_console(client: &Client, expected_statuses: &[u16]) -> Vec<String> {
    console(client)
        .await
        .into_iter()
        .filter(|m| m.starts_with("SEVERE") || m.starts_with("WARNING"))
        .filter(|m| {
            !(m.contains("Failed to load resource")
                && expected_statuses
                    .iter()
                    .any(|s| m.contains(&format!("status of {s}"))))
        })
        .collect()
}

/// Signs in on the home page as `user` (a name is the local server's sign-in).
pub async fn sign_in_as(c: &Client, user: &str) {
    let field = c.find(Locator::Id("user")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(user).await.unwrap();
    click(c, "#sign-in button").await;
}

/// Opens `account`'s Users page on the home page.
pub async fn open_account(c: &Client, account: &str) {
    let field = c.find(Locator::Id("account-id")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(account).await.unwrap();
    click(c, "#account button").await;
}

/// What a reader sees in the page's main element.
pub async fn main_text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The local server's home page over a new in-memory app whose mails go to the outbox
/// `work/outbox`, which the page lists: the app (its links pointing at the page) and the page's
/// address.
pub async fn home_page(work: &std::path::Path) -> (crate::TestApp, String) {
    use std::sync::Arc;
    let outbox = work.join("outbox");
    let mailer = Arc::new(
        backup_codes::adapters::outbox::OutboxMailer::new(&outbox, "security@acme.example")
            .unwrap(),
    );
    let mut app = crate::TestApp::with_mailer(
        crate::Backend::Memory,
        mailer,
        Arc::new(crate::RecordingMailer::default()),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    app.reconfigure(|config| config.link_base_url = Some(base.clone()));
    let home = local_server::home::Home {
        outbox: Some(outbox),
    };
    tokio::spawn(local_server::serve_with_home(
        listener,
        app.functions.clone(),
        home,
    ));
    (app, base)
}

/// A web component on the page, reached through its shadow root: `Component("document
/// .querySelector('backup-codes-settings').shadowRoot")` formats as that expression.
pub struct Component(pub &'static str);

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Component {
    /// The component's text once it contains `wanted`.
    pub async fn says(&self, client: &Client, wanted: &str) -> String {
        let wanted = serde_json::to_string(wanted).unwrap();
        eventually(
            client,
            &format!("{self}.textContent.includes({wanted}) && {self}.textContent"),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Clicks the component's button (or button-styled link) whose text is `label`.
    pub async fn press(&self, client: &Client, label: &str) {
        let label_js = serde_json::to_string(label).unwrap();
        let found = js(
            client,
            &format!("const b = [...{self}.querySelectorAll('button, a.button')].find((b) => b.textContent === {label_js}); if (b) b.click(); return !!b;"),
        )
        .await;
        assert_eq!(found, true, "no button {label}");
    }

    /// Types `code` into the field that has focus and presses Enter: proves focus moved to the
    /// code field.
    pub async fn type_into_focus(&self, client: &Client, code: &str) {
        let focused = js(
            client,
            &format!("const a = {self}.activeElement; return a && a.tagName + ':' + a.name;"),
        )
        .await;
        assert_eq!(focused, "INPUT:code", "focus is on the code field");
        client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("{code}\u{E007}"))
            .await
            .unwrap();
    }

    /// Fills the component's code field and submits its form.
    pub async fn submit_code(&self, client: &Client, code: &str) {
        let code = serde_json::to_string(code).unwrap();
        js(
            client,
            &format!("const i = {self}.querySelector('input[name=code]'); i.value = {code}; i.form.requestSubmit();"),
        )
        .await;
    }

    /// The text of the component's alert region once it has some.
    pub async fn alert(&self, client: &Client) -> String {
        let text = eventually(
            client,
            &format!("{self}.querySelector('[role=alert]').textContent"),
        )
        .await;
        text.as_str().unwrap().to_owned()
    }
}

/// A state the tests reach: axe-core finds no serious or critical violation in it, and its
/// screenshot is `target/ui-screenshots/<name>.png`.
pub async fn check_state(client: &Client, name: &str) {
    no_violations(client, name).await;
    screenshot(client, name).await;
}
