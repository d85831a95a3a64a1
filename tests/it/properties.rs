//! A share link under random use: sequences of what viewers and the owner do to one
//! link — views (JSON, the page, its Reveal and password forms), right and wrong
//! passwords, concurrent bursts of views, changes of the view limit, password and
//! expiry, time running out, revocation — run against the real service and checked,
//! step by step, against a small model of what each should answer. At the end the
//! link's counters, its recorded views and its analytics must agree with the model.
//!
//! Each case is one new link on a shared server; its viewers come from addresses no
//! other case uses (through a trusted proxy), so the per-client limits of one case
//! never leak into another.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};

use agentshare::domain::time::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{behind_proxy, Backend, TestApp};

/// Cases per backend (`PROPTEST_CASES` overrides) and the longest sequence.
const CASES: u32 = 32;
const MAX_OPS: usize = 20;

/// Passwords an owner sets; viewers guess among them, or try something else.
const PASSWORDS: [&str; 2] = ["open-sesame-1", "open-sesame-2"];
const WRONG_PASSWORD: &str = "not-the-password";
/// Browsers the viewers of a case use.
const AGENTS: [&str; 2] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148",
];
/// Distinct client addresses per case.
const CLIENTS: usize = 3;
/// Limits from the README: a client whose lookups under `/s/` miss 30 times is
/// refused; 5 wrong passwords from one client, or 20 on the link, lock it.
const MISSES_ALLOWED: u32 = 30;
const WRONG_PER_CLIENT: u32 = 5;
const WRONG_PER_LINK: u32 = 20;
/// A line of the task's output, shown only once a view is spent.
const OUTPUT: &str = "The bug is gone.";

/// Gives each case its own block of viewer addresses, and each burst viewer its own.
static CASE_BLOCKS: AtomicU32 = AtomicU32::new(0);
static BURST_VIEWERS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Copy)]
struct Viewer {
    client: usize,
    agent: usize,
}

/// What a viewer gives as the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    Omitted,
    /// One of [`PASSWORDS`]: right if it is the link's current one.
    Known(usize),
    Wrong,
}

#[derive(Debug, Clone)]
enum Op {
    /// A JSON client opens the link.
    View(Viewer, Guess),
    /// A browser opens the link's page.
    OpenPage(Viewer),
    /// A browser submits the page's form: the Reveal button, or the password form.
    SubmitPage(Viewer, Guess),
    /// That many JSON viewers, each from its own address, open the link at once
    /// (with the right password, if it has one).
    Burst(usize),
    /// A JSON client tries that many wrong passwords in a row.
    WrongPasswords(Viewer, usize),
    /// A client tries that many tokens of links that don't exist.
    Guessing(Viewer, usize),
    Revoke,
    SetMaxViews(Option<i64>),
    SetPassword(Option<usize>),
    /// A new expiry a day from now.
    ExtendExpiry,
    /// An expiry this many minutes in the past, which the API refuses.
    ExpiryInThePast(i64),
    /// The link's time runs out (its `expires_at` is moved into the past).
    TimePasses,
}

#[derive(Debug, Clone)]
struct Setup {
    max_views: Option<i64>,
    password: Option<usize>,
}

fn viewer() -> impl Strategy<Value = Viewer> {
    (0..CLIENTS, 0..AGENTS.len()).prop_map(|(client, agent)| Viewer { client, agent })
}

fn guess() -> impl Strategy<Value = Guess> {
    prop_oneof![
        1 => Just(Guess::Omitted),
        3 => (0..PASSWORDS.len()).prop_map(Guess::Known),
        1 => Just(Guess::Wrong),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (viewer(), guess()).prop_map(|(v, g)| Op::View(v, g)),
        2 => viewer().prop_map(Op::OpenPage),
        2 => (viewer(), guess()).prop_map(|(v, g)| Op::SubmitPage(v, g)),
        2 => (2..=6usize).prop_map(Op::Burst),
        3 => (viewer(), 1..=8usize).prop_map(|(v, n)| Op::WrongPasswords(v, n)),
        1 => (viewer(), 1..=30usize).prop_map(|(v, n)| Op::Guessing(v, n)),
        1 => Just(Op::Revoke),
        3 => prop::option::weighted(0.7, 1..=10i64).prop_map(Op::SetMaxViews),
        2 => prop::option::weighted(0.7, 0..PASSWORDS.len()).prop_map(Op::SetPassword),
        2 => Just(Op::ExtendExpiry),
        1 => (1..=100_000i64).prop_map(Op::ExpiryInThePast),
        1 => Just(Op::TimePasses),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (prop::option::weighted(0.6, 1..=6i64), prop::option::weighted(0.5, 0..PASSWORDS.len()))
        .prop_map(|(max_views, password)| Setup { max_views, password })
}

/// What a viewer's request comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A view was spent and the task shown.
    Shown,
    /// The page asks first (password form, or "can be opened N more times").
    Asks,
    Gone,
    RateLimited,
    PasswordRequired,
    InvalidPassword,
    TooManyAttempts,
}

/// What the link should be, from everything done to it so far.
#[derive(Debug, Default)]
struct Model {
    max_views: Option<i64>,
    password: Option<usize>,
    revoked: bool,
    expired_by_time: bool,
    views: i64,
    /// `(client address, browser)` of every counted view.
    visitors: HashSet<(String, usize)>,
    misses: HashMap<String, u32>,
    wrong_by_client: HashMap<String, u32>,
    wrong_on_link: u32,
}

impl Model {
    fn active(&self) -> bool {
        !self.revoked && !self.expired_by_time && self.max_views.is_none_or(|max| self.views < max)
    }

    fn status(&self) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.active() {
            "active"
        } else {
            "expired"
        }
    }

    /// Finding the link: refused after too many misses, gone unless active. Its
    /// token names a link even when that link is gone, so opening it is never
    /// counted as a miss (only guessed tokens are).
    fn lookup(&mut self, client: &str) -> Result<(), Answer> {
        if self.misses.get(client).is_some_and(|misses| *misses >= MISSES_ALLOWED) {
            return Err(Answer::RateLimited);
        }
        if !self.active() {
            return Err(Answer::Gone);
        }
        Ok(())
    }

    fn check_password(&mut self, client: &str, guess: Guess) -> Result<(), Answer> {
        let Some(current) = self.password else {
            return Ok(());
        };
        if guess == Guess::Omitted {
            return Err(Answer::PasswordRequired);
        }
        let wrong_here = self.wrong_by_client.entry(client.to_owned()).or_default();
        if *wrong_here >= WRONG_PER_CLIENT || self.wrong_on_link >= WRONG_PER_LINK {
            return Err(Answer::TooManyAttempts);
        }
        if guess == Guess::Known(current) {
            Ok(())
        } else {
            *wrong_here += 1;
            self.wrong_on_link += 1;
            Err(Answer::InvalidPassword)
        }
    }

    fn spend(&mut self, client: &str, agent: usize) -> Answer {
        self.views += 1;
        self.visitors.insert((client.to_owned(), agent));
        Answer::Shown
    }

    fn remaining(&self) -> Option<i64> {
        self.max_views.map(|max| (max - self.views).max(0))
    }
}

/// One case: a fresh link, its viewers' addresses, and the model beside it.
struct Case<'a> {
    app: &'a TestApp,
    id: String,
    url: String,
    block: u32,
    model: Model,
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

impl Case<'_> {
    fn client(&self, viewer: Viewer) -> String {
        format!("10.{}.{}.{}", (self.block >> 8) & 255, self.block & 255, viewer.client + 1)
    }

    fn guess_text(guess: Guess) -> Option<&'static str> {
        match guess {
            Guess::Omitted => None,
            Guess::Known(i) => Some(PASSWORDS[i]),
            Guess::Wrong => Some(WRONG_PASSWORD),
        }
    }

    async fn view_json(&self, client: &str, agent: usize, password: Option<&str>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .get(&self.url)
            .header("accept", "application/json")
            .header("x-forwarded-for", client)
            .header("user-agent", AGENTS[agent]);
        if let Some(password) = password {
            request = request.header("x-share-password", password);
        }
        request.send().await.expect("answered")
    }

    /// Reads a JSON viewer's answer, checking a shown view against the model.
    async fn read_json(&self, response: reqwest::Response) -> Result<(Answer, Option<i64>), TestCaseError> {
        let status = response.status();
        let retry_after = response.headers().get("retry-after").is_some();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or_default();
        let answer = match (status, code) {
            (StatusCode::OK, _) => {
                check!(body["success"] == true, "a 200 without success: {body}");
                check!(
                    body["data"]["outputs"].to_string().contains(OUTPUT),
                    "the view shows the task's output: {body}"
                );
                return Ok((Answer::Shown, body["data"]["view_count"].as_i64()));
            }
            (StatusCode::NOT_FOUND, "SHARE_LINK_NOT_FOUND") => Answer::Gone,
            (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED") => Answer::RateLimited,
            (StatusCode::UNAUTHORIZED, "PASSWORD_REQUIRED") => Answer::PasswordRequired,
            (StatusCode::UNAUTHORIZED, "INVALID_PASSWORD") => Answer::InvalidPassword,
            (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS") => Answer::TooManyAttempts,
            _ => return Err(TestCaseError::fail(format!("unexpected answer {status}: {body}"))),
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            check!(retry_after, "a 429 says when to come back");
        }
        Ok((answer, None))
    }

    /// Reads a browser's answer from what the page shows.
    async fn read_page(&self, response: reqwest::Response) -> Result<Answer, TestCaseError> {
        let status = response.status();
        let html = response.text().await.unwrap_or_default();
        let answer = match status {
            StatusCode::OK if html.contains(OUTPUT) => Answer::Shown,
            StatusCode::OK => Answer::Asks,
            StatusCode::NOT_FOUND => Answer::Gone,
            StatusCode::UNAUTHORIZED if html.contains("not correct") => Answer::InvalidPassword,
            StatusCode::UNAUTHORIZED => Answer::PasswordRequired,
            StatusCode::TOO_MANY_REQUESTS if html.contains("Too many wrong passwords") => {
                Answer::TooManyAttempts
            }
            StatusCode::TOO_MANY_REQUESTS => Answer::RateLimited,
            _ => return Err(TestCaseError::fail(format!("unexpected page {status}: {html}"))),
        };
        if answer == Answer::Asks {
            if self.model.password.is_some() {
                check!(html.contains("name=\"password\""), "a protected link asks for its password: {html}");
            } else if let Some(remaining) = self.model.remaining() {
                let says = format!("can be opened {remaining} more time");
                check!(html.contains(&says), "the page says '{says}': {html}");
            }
        }
        Ok(answer)
    }

    async fn owner(&self, method: reqwest::Method, body: Option<Value>) -> (StatusCode, Value) {
        self.app.request(method, &format!("/v1/share-links/{}", self.id), body).await
    }

    /// A change the owner makes: refused on a revoked link, else applied.
    async fn change(&mut self, body: Value) -> Result<bool, TestCaseError> {
        let (status, answer) = self.owner(reqwest::Method::PATCH, Some(body.clone())).await;
        if self.model.revoked {
            check!(
                status == StatusCode::CONFLICT && answer["error"]["code"] == "SHARE_LINK_REVOKED",
                "changing a revoked link answers 409 SHARE_LINK_REVOKED, got {status}: {answer}"
            );
            Ok(false)
        } else {
            check!(status == StatusCode::OK, "PATCH {body} answers 200, got {status}: {answer}");
            Ok(true)
        }
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::View(viewer, guess) => {
                let client = self.client(viewer);
                let expected = self
                    .model
                    .lookup(&client)
                    .and_then(|()| self.model.check_password(&client, guess))
                    .map(|()| self.model.spend(&client, viewer.agent))
                    .unwrap_or_else(|answer| answer);
                let response = self.view_json(&client, viewer.agent, Self::guess_text(guess)).await;
                let (answer, view_count) = self.read_json(response).await?;
                check!(answer == expected, "expected {expected:?}, got {answer:?}");
                if answer == Answer::Shown {
                    check!(
                        view_count == Some(self.model.views),
                        "the view is number {}, got {view_count:?}",
                        self.model.views
                    );
                }
            }
            Op::OpenPage(viewer) => {
                let client = self.client(viewer);
                let expected = match self.model.lookup(&client) {
                    Err(answer) => answer,
                    Ok(()) if self.model.password.is_some() || self.model.max_views.is_some() => Answer::Asks,
                    Ok(()) => self.model.spend(&client, viewer.agent),
                };
                let response = self
                    .app
                    .client
                    .get(&self.url)
                    .header("accept", "text/html")
                    .header("x-forwarded-for", &client)
                    .header("user-agent", AGENTS[viewer.agent])
                    .send()
                    .await
                    .expect("answered");
                let answer = self.read_page(response).await?;
                check!(answer == expected, "expected {expected:?}, got {answer:?}");
            }
            Op::SubmitPage(viewer, guess) => {
                let client = self.client(viewer);
                let expected = self
                    .model
                    .lookup(&client)
                    .and_then(|()| self.model.check_password(&client, guess))
                    .map(|()| self.model.spend(&client, viewer.agent))
                    .unwrap_or_else(|answer| answer);
                let form = match Self::guess_text(guess) {
                    Some(password) => format!("password={password}"),
                    None => String::new(),
                };
                let response = self
                    .app
                    .client
                    .post(&self.url)
                    .header("accept", "text/html")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-forwarded-for", &client)
                    .header("user-agent", AGENTS[viewer.agent])
                    .body(form)
                    .send()
                    .await
                    .expect("answered");
                let answer = self.read_page(response).await?;
                check!(answer == expected, "expected {expected:?}, got {answer:?}");
            }
            Op::Burst(n) => self.burst(n).await?,
            Op::WrongPasswords(viewer, n) => {
                let client = self.client(viewer);
                for _ in 0..n {
                    let expected = self
                        .model
                        .lookup(&client)
                        .and_then(|()| self.model.check_password(&client, Guess::Wrong))
                        .map(|()| self.model.spend(&client, viewer.agent))
                        .unwrap_or_else(|answer| answer);
                    let response = self.view_json(&client, viewer.agent, Some(WRONG_PASSWORD)).await;
                    let (answer, _) = self.read_json(response).await?;
                    check!(answer == expected, "expected {expected:?}, got {answer:?}");
                }
            }
            Op::Guessing(viewer, n) => {
                let client = self.client(viewer);
                for _ in 0..n {
                    let misses = self.model.misses.entry(client.clone()).or_default();
                    let expected = if *misses >= MISSES_ALLOWED {
                        Answer::RateLimited
                    } else {
                        *misses += 1;
                        Answer::Gone
                    };
                    let token = agentshare::domain::ids::new_secret::<32>();
                    let response = self
                        .app
                        .client
                        .get(format!("{}/s/{token}", self.app.base))
                        .header("accept", "application/json")
                        .header("x-forwarded-for", &client)
                        .send()
                        .await
                        .expect("answered");
                    let (answer, _) = self.read_json(response).await?;
                    check!(answer == expected, "expected {expected:?}, got {answer:?}");
                }
            }
            Op::Revoke => {
                let (status, answer) = self.owner(reqwest::Method::DELETE, None).await;
                check!(status == StatusCode::OK, "revoking answers 200, got {status}: {answer}");
                self.model.revoked = true;
            }
            Op::SetMaxViews(max_views) => {
                if self.change(json!({ "max_views": max_views })).await? {
                    self.model.max_views = max_views;
                }
            }
            Op::SetPassword(password) => {
                if self.change(json!({ "password": password.map(|i| PASSWORDS[i]) })).await? {
                    self.model.password = password;
                }
            }
            Op::ExtendExpiry => {
                let at = Timestamp::now().plus_days(1).to_rfc3339();
                if self.change(json!({ "expires_at": at })).await? {
                    self.model.expired_by_time = false;
                }
            }
            Op::ExpiryInThePast(minutes) => {
                let at = Timestamp(Timestamp::now().millis() - minutes * 60_000).to_rfc3339();
                let (status, answer) =
                    self.owner(reqwest::Method::PATCH, Some(json!({ "expires_at": at }))).await;
                check!(
                    status == StatusCode::BAD_REQUEST
                        && answer["error"]["code"] == "INVALID_REQUEST"
                        && answer["error"]["details"]["field"] == "expires_at",
                    "an expiry in the past is refused naming expires_at, got {status}: {answer}"
                );
            }
            Op::TimePasses => {
                let past = Timestamp::now().millis() - 1000;
                self.app
                    .sql(&format!(
                        "UPDATE share_links SET expires_at = {past} WHERE share_link_id = '{}'",
                        self.id
                    ))
                    .await;
                self.model.expired_by_time = true;
            }
        }
        self.check_owner_view().await
    }

    /// `n` viewers at once, each from a new address: exactly as many as the link
    /// has views left are shown, each a different view number.
    async fn burst(&mut self, n: usize) -> Result<(), TestCaseError> {
        let password = self.model.password.map(|i| PASSWORDS[i]);
        let viewers: Vec<String> = (0..n)
            .map(|_| {
                let b = BURST_VIEWERS.fetch_add(1, Ordering::Relaxed);
                format!("172.{}.{}.{}", 16 + ((b >> 16) & 15), (b >> 8) & 255, b & 255)
            })
            .collect();
        let responses =
            futures_util::future::join_all(viewers.iter().map(|client| self.view_json(client, 0, password)))
                .await;
        let mut answers = Vec::new();
        for response in responses {
            answers.push(self.read_json(response).await?);
        }
        let count = |a: Answer| answers.iter().filter(|(answer, _)| *answer == a).count();
        let (shown, gone, locked) =
            (count(Answer::Shown), count(Answer::Gone), count(Answer::TooManyAttempts));
        check!(shown + gone + locked == n, "every viewer is shown, turned away or locked out: {answers:?}");
        if !self.model.active() {
            check!(gone == n, "a link that is not active shows nothing: {answers:?}");
            return Ok(());
        }
        if password.is_some() && self.model.wrong_on_link >= WRONG_PER_LINK {
            check!(locked == n, "a locked link lets no password through: {answers:?}");
            return Ok(());
        }
        // Right passwords being checked count toward the lock for as long as they
        // are in flight, so only a burst that could reach it may be partly locked.
        let may_lock = password.is_some() && self.model.wrong_on_link as usize + n > WRONG_PER_LINK as usize;
        check!(locked == 0 || may_lock, "no viewer is locked out: {answers:?}");
        let passed = (n - locked) as i64;
        let expected = self.model.remaining().map_or(passed, |left| left.min(passed));
        check!(shown as i64 == expected, "{expected} of {n} viewers are shown: {answers:?}");
        let numbers: BTreeSet<i64> = answers.iter().filter_map(|(_, number)| *number).collect();
        let first = self.model.views + 1;
        check!(
            numbers == (first..first + expected).collect(),
            "the viewers get view numbers {first}.. each once: {answers:?}"
        );
        for ((answer, _), client) in answers.iter().zip(&viewers) {
            if *answer == Answer::Shown {
                self.model.spend(client, 0);
            }
        }
        Ok(())
    }

    /// The owner sees the link as the model has it.
    async fn check_owner_view(&self) -> Result<(), TestCaseError> {
        let (status, body) = self.owner(reqwest::Method::GET, None).await;
        check!(status == StatusCode::OK, "the owner reads the link: {status} {body}");
        let link = &body["data"];
        let model = &self.model;
        check!(link["view_count"] == model.views, "view_count {} in {link}", model.views);
        check!(link["status"] == model.status(), "status {} in {link}", model.status());
        check!(link["max_views"] == json!(model.max_views), "max_views {:?} in {link}", model.max_views);
        check!(
            link["password_protected"] == model.password.is_some(),
            "password_protected {} in {link}",
            model.password.is_some()
        );
        Ok(())
    }

    /// The views recorded, the analytics and the password attempts kept agree with
    /// the model.
    async fn check_records(&self) -> Result<(), TestCaseError> {
        let id = &self.id;
        let model = &self.model;
        let recorded = self
            .app
            .sql_i64(&format!("SELECT COUNT(*) FROM share_link_views WHERE share_link_id = '{id}'"))
            .await;
        check!(recorded == model.views, "{recorded} views recorded, {} counted", model.views);
        let attempts = self
            .app
            .sql_i64(&format!(
                "SELECT COUNT(*) FROM share_link_password_attempts WHERE share_link_id = '{id}'"
            ))
            .await;
        check!(
            attempts == i64::from(model.wrong_on_link),
            "{attempts} password failures kept, {} made",
            model.wrong_on_link
        );

        let (status, body) = self.app.get(&format!("/v1/share-links/{id}/analytics")).await;
        check!(status == StatusCode::OK, "analytics: {status} {body}");
        let analytics = &body["data"];
        check!(analytics["total_views"] == model.views, "total_views {} in {analytics}", model.views);
        check!(
            analytics["unique_views"] == model.visitors.len(),
            "unique_views {} in {analytics}",
            model.visitors.len()
        );
        let sum =
            |list: &Value| list.as_array().map_or(0, |l| l.iter().filter_map(|e| e["views"].as_i64()).sum());
        for list in ["views_by_day", "countries", "referrers", "browsers", "operating_systems", "devices"] {
            check!(
                sum(&analytics[list]) == model.views,
                "{list} adds up to {} views: {analytics}",
                model.views
            );
        }
        check!(
            analytics["first_viewed_at"].is_null() == (model.views == 0)
                && analytics["last_viewed_at"].is_null() == (model.views == 0),
            "first and last view are known exactly when there were views: {analytics}"
        );
        Ok(())
    }
}

async fn run_case(app: &TestApp, task: &str, setup: &Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let link = app
        .share(
            task,
            json!({ "max_views": setup.max_views, "password": setup.password.map(|i| PASSWORDS[i]) }),
        )
        .await;
    let mut case = Case {
        app,
        id: link["share_link_id"].as_str().unwrap().to_owned(),
        url: link["url"].as_str().unwrap().to_owned(),
        block: CASE_BLOCKS.fetch_add(1, Ordering::Relaxed),
        model: Model { max_views: setup.max_views, password: setup.password, ..Model::default() },
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(failure) = case.step(op).await {
            return Err(TestCaseError::fail(format!(
                "step {i} ({op:?}): {failure}\nmodel: {:?}",
                case.model
            )));
        }
    }
    case.check_records().await.map_err(|failure| {
        TestCaseError::fail(format!("after all steps: {failure}\nmodel: {:?}", case.model))
    })
}

async fn share_links_follow_the_model(app: TestApp) {
    let task = app.finished_task("model").await;
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    let config = Config { cases, failure_persistence: None, max_shrink_time: 120_000, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let handle = tokio::runtime::Handle::current();
    let strategy = (setup(), prop::collection::vec(op(), 1..=MAX_OPS));
    // The runner calls the case synchronously; each case drives the async client on
    // this runtime, while the server keeps running on the other worker.
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(setup, ops)| handle.block_on(run_case(&app, &task, &setup, &ops)))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_answer_as_the_model_predicts_on_sqlite() {
    share_links_follow_the_model(TestApp::spawn_with(Backend::Sqlite, behind_proxy).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_answer_as_the_model_predicts_on_postgres() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, behind_proxy).await else {
        return;
    };
    share_links_follow_the_model(app).await;
}
