//! Pull requests on a real git repository, with each share-code permission tested
//! both ways.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::agentshare;
use crate::common::{assert_error, assert_invalid, Backend, TestApp};

/// Runs git in `dir` and returns its trimmed output.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

/// A repositories directory holding `acme/app.git` (bare), whose `main` has a
/// README, with branches `feature` (a new file and a README change that merges
/// cleanly), `clash` (a README change that conflicts with `main`) and `docs`.
struct Repos {
    root: tempfile::TempDir,
}

impl Repos {
    fn new() -> Repos {
        let root = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        git(w, &["init", "-q"]);
        write(w, "README.md", "# App\n\nline one\nline two\nline three\n");
        git(w, &["add", "."]);
        git(w, &["commit", "-qm", "initial"]);
        git(w, &["checkout", "-qb", "feature"]);
        write(w, "login.rs", "fn login() {}\n");
        write(w, "README.md", "# App\n\nline one\nline two\nline three\nline four\n");
        git(w, &["add", "."]);
        git(w, &["commit", "-qm", "feature"]);
        git(w, &["checkout", "-q", "main"]);
        git(w, &["checkout", "-qb", "clash"]);
        write(w, "README.md", "# App\n\nline ONE from clash\nline two\nline three\n");
        git(w, &["commit", "-qam", "clash"]);
        git(w, &["checkout", "-q", "main"]);
        git(w, &["checkout", "-qb", "docs"]);
        write(w, "DOCS.md", "docs\n");
        git(w, &["add", "."]);
        git(w, &["commit", "-qm", "docs"]);
        git(w, &["checkout", "-q", "main"]);
        write(w, "README.md", "# App\n\nline one, edited on main\nline two\nline three\n");
        git(w, &["commit", "-qam", "main moves on"]);
        std::fs::create_dir_all(root.path().join("acme")).unwrap();
        git(root.path(), &["clone", "-q", "--bare", w.to_str().unwrap(), "acme/app.git"]);
        let bare = root.path().join("acme/app.git");
        for branch in ["feature", "clash", "docs"] {
            git(w, &["push", "-q", bare.to_str().unwrap(), branch]);
        }
        Repos { root }
    }

    fn repo(&self) -> std::path::PathBuf {
        self.root.path().join("acme/app.git")
    }

    fn head(&self, branch: &str) -> String {
        git(&self.repo(), &["rev-parse", &format!("refs/heads/{branch}")])
    }

    /// `agentshare repositories COMMAND --owner OWNER REPOSITORY`, as the operator
    /// runs it; answers its output, panicking if it fails.
    fn operator(&self, app: &TestApp, command: &str, owner: &str, repository: &str) -> String {
        let dir = self.root.path().to_str().unwrap();
        let (ok, out, err) = agentshare(&[
            "repositories",
            command,
            "--owner",
            owner,
            repository,
            "--repositories-dir",
            dir,
            "--database-url",
            &app.db.url,
        ]);
        assert!(ok, "repositories {command}: {err}");
        out
    }

    fn grant(&self, app: &TestApp, owner: &str, repository: &str) {
        self.operator(app, "grant", owner, repository);
    }
}

/// A service whose repositories directory is `repos`, where the operator granted
/// `acme/app.git` to alice (the owner of [`TestApp::key`]).
async fn spawn(backend: Backend) -> Option<(TestApp, Repos)> {
    let repos = Repos::new();
    let dir = repos.root.path().to_owned();
    let app = TestApp::spawn_with(backend, move |s| s.repositories_dir = Some(dir)).await?;
    repos.grant(&app, "alice", "acme/app.git");
    Some((app, repos))
}

/// A task linked to `acme/app.git` (base `main`), and a viewer session for it with
/// `permissions`.
async fn task_and_viewer(app: &TestApp, permissions: Value) -> (String, String) {
    let task = app.create_task("with a repository").await;
    let (status, body) = app
        .patch(&format!("/v1/tasks/{task}"), json!({"repository": "acme/app.git", "base_branch": "main"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["repository"], "acme/app.git");
    let (_, code) =
        app.post(&format!("/v1/agentrix/tasks/{task}/share"), json!({"permissions": permissions})).await;
    let code = code["shareCode"].as_str().unwrap();
    let (_, session) = app.request_as(None, Method::GET, &format!("/v1/auth/share?code={code}"), None).await;
    (task, session["token"].as_str().unwrap().to_owned())
}

macro_rules! pr_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, repos) = super::spawn(crate::common::Backend::Sqlite).await.unwrap();
                super::$name(app, repos).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, repos)) = super::spawn(crate::common::Backend::Postgres).await {
                    super::$name(app, repos).await
                }
            }
        }
    )*};
}

pr_tests!(
    linking_a_repository_is_checked,
    the_owner_opens_and_reads_a_pull_request_with_its_diff,
    viewing_needs_can_view_pr,
    creating_needs_can_create_pr,
    approving_needs_can_approve_pr,
    merging_needs_can_merge_pr_and_merges_for_real,
    conflicts_and_missing_approvals_refuse_to_merge,
    repositories_belong_to_the_owners_they_are_granted_to,
);

async fn linking_a_repository_is_checked(app: TestApp, _repos: Repos) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}");
    for (body, field) in [
        (json!({"repository": "../etc"}), "repository"),
        (json!({"repository": "/etc"}), "repository"),
        (json!({"repository": "acme/missing.git"}), "repository"),
        (json!({"repository": "acme"}), "repository"),
        (json!({"repository": "acme/app.git", "base_branch": "nope"}), "base_branch"),
        (json!({"repository": "acme/app.git", "base_branch": "-x"}), "base_branch"),
        (json!({"base_branch": "main"}), "base_branch"),
    ] {
        let (status, answer) = app.patch(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_invalid(&answer, field);
    }
    let (status, body) = app.patch(&path, json!({"repository": "acme/app.git"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["base_branch"], "main", "main by default");
    let (_, body) = app.patch(&path, json!({"repository": null})).await;
    assert_eq!(body["data"]["repository"], Value::Null);
    let (status, body) =
        app.post(&format!("{path}/pull-requests"), json!({"title": "x", "head_branch": "feature"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "NO_REPOSITORY");

    let bob = app.new_owner("bob").await;
    let (status, _) =
        app.request_as(Some(&bob), Method::PATCH, &path, Some(json!({"repository": "acme/app.git"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_owner_opens_and_reads_a_pull_request_with_its_diff(app: TestApp, _repos: Repos) {
    let (task, _) = task_and_viewer(&app, json!({})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    let (status, body) = app
        .post(&prs, json!({"title": "Add login", "head_branch": "feature", "description": "Adds login"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pr = &body["data"];
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["status"], "open");
    assert_eq!(pr["author"], "owner");
    assert_eq!(pr["base_branch"], "main");
    let diff = &pr["diff"];
    assert_eq!(diff["insertions"], 2);
    assert_eq!(diff["deletions"], 0);
    let files: Vec<(&str, &str)> = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(files, vec![("README.md", "modified"), ("login.rs", "added")]);
    assert!(diff["patch"].as_str().unwrap().contains("+fn login() {}"));

    let (status, body) = app.get(&format!("{prs}/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["diff"]["files"].as_array().unwrap().len(), 2);
    let (_, list) = app.get(&prs).await;
    assert_eq!(list["data"]["pull_requests"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"]["pull_requests"][0]["diff"], Value::Null);

    for (body, field) in [
        (json!({"title": "", "head_branch": "feature"}), "title"),
        (json!({"title": "x", "head_branch": "main"}), "head_branch"),
        (json!({"title": "x", "head_branch": "a..b"}), "head_branch"),
        (json!({"title": "x"}), "head_branch"),
    ] {
        let (status, answer) = app.post(&prs, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_invalid(&answer, field);
    }
    let (status, body) = app.post(&prs, json!({"title": "x", "head_branch": "ghost"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "BRANCH_NOT_FOUND");
    let (status, body) = app.post(&prs, json!({"title": "again", "head_branch": "feature"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "PULL_REQUEST_EXISTS");
    let (status, body) = app.get(&format!("{prs}/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "PULL_REQUEST_NOT_FOUND");
}

async fn viewing_needs_can_view_pr(app: TestApp, _repos: Repos) {
    let (task, blind) = task_and_viewer(&app, json!({"canViewPr": false})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Add login", "head_branch": "feature"})).await;
    for path in [prs.clone(), format!("{prs}/1")] {
        let (status, body) = app.request_as(Some(&blind), Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_error(&body, "FORBIDDEN");
    }
    let (task2, seeing) = task_and_viewer(&app, json!({})).await;
    let prs2 = format!("/v1/tasks/{task2}/pull-requests");
    app.post(&prs2, json!({"title": "Add login", "head_branch": "feature"})).await;
    let (status, body) = app.request_as(Some(&seeing), Method::GET, &format!("{prs2}/1"), None).await;
    assert_eq!(status, StatusCode::OK, "canViewPr is on by default");
    assert_eq!(body["data"]["diff"]["insertions"], 2);
    let (status, _) = app.request_as(Some(&seeing), Method::GET, &format!("{prs}/1"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never another task's");
}

async fn creating_needs_can_create_pr(app: TestApp, _repos: Repos) {
    let (task, viewer) = task_and_viewer(&app, json!({})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    let (status, body) = app
        .request_as(Some(&viewer), Method::POST, &prs, Some(json!({"title": "x", "head_branch": "feature"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "FORBIDDEN");
    let (_, list) = app.get(&prs).await;
    assert_eq!(list["data"]["pull_requests"], json!([]));

    let (task, creator) = task_and_viewer(&app, json!({"canCreatePr": true})).await;
    let (status, body) = app
        .request_as(
            Some(&creator),
            Method::POST,
            &format!("/v1/tasks/{task}/pull-requests"),
            Some(json!({"title": "From the client", "head_branch": "docs"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["author"], "viewer");
}

async fn approving_needs_can_approve_pr(app: TestApp, _repos: Repos) {
    let (task, viewer) = task_and_viewer(&app, json!({})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Add login", "head_branch": "feature"})).await;
    let (status, _) = app.request_as(Some(&viewer), Method::POST, &format!("{prs}/1/approve"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, pr) = app.get(&format!("{prs}/1")).await;
    assert_eq!(pr["data"]["approvals"], 0);

    let (task, approver) = task_and_viewer(&app, json!({"canApprovePr": true})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Add login", "head_branch": "feature"})).await;
    for _ in 0..2 {
        let (status, body) =
            app.request_as(Some(&approver), Method::POST, &format!("{prs}/1/approve"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["approvals"], 1, "one approval per session");
    }
    let (_, body) = app.request(Method::POST, &format!("{prs}/1/approve"), None).await;
    assert_eq!(body["data"]["approvals"], 2, "the owner's approval counts too");
}

async fn merging_needs_can_merge_pr_and_merges_for_real(app: TestApp, repos: Repos) {
    let (task, viewer) = task_and_viewer(&app, json!({})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Add login", "head_branch": "feature"})).await;
    let main_before = repos.head("main");
    let (status, body) = app.request_as(Some(&viewer), Method::POST, &format!("{prs}/1/merge"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "FORBIDDEN");
    assert_eq!(repos.head("main"), main_before, "nothing merged");

    let (task, merger) = task_and_viewer(&app, json!({"canMergePr": true})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Add login", "head_branch": "feature"})).await;
    let (status, body) = app.request_as(Some(&merger), Method::POST, &format!("{prs}/1/merge"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pr = &body["data"];
    assert_eq!(pr["status"], "merged");
    let commit = pr["merge_commit"].as_str().unwrap();
    assert_eq!(repos.head("main"), commit, "main now points at the merge");
    let parents = git(&repos.repo(), &["rev-list", "--parents", "-n", "1", commit]);
    assert_eq!(parents.split_whitespace().count(), 3, "a merge commit with two parents: {parents}");
    let readme = git(&repos.repo(), &["show", &format!("{commit}:README.md")]);
    assert!(readme.contains("edited on main") && readme.contains("line four"), "both sides: {readme}");
    assert_eq!(git(&repos.repo(), &["show", &format!("{commit}:login.rs")]), "fn login() {}");

    let (_, after) = app.get(&format!("{prs}/1")).await;
    assert_eq!(
        after["data"]["diff"]["files"].as_array().unwrap().len(),
        2,
        "the diff as merged stays visible"
    );
    let (status, body) = app.request(Method::POST, &format!("{prs}/1/merge"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "PULL_REQUEST_NOT_OPEN");
}

async fn conflicts_and_missing_approvals_refuse_to_merge(app: TestApp, repos: Repos) {
    let (task, _) = task_and_viewer(&app, json!({})).await;
    let prs = format!("/v1/tasks/{task}/pull-requests");
    app.post(&prs, json!({"title": "Clash", "head_branch": "clash"})).await;
    let main_before = repos.head("main");
    let (status, body) = app.request(Method::POST, &format!("{prs}/1/merge"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "MERGE_CONFLICT");
    assert_eq!(body["error"]["details"]["paths"], json!(["README.md"]));
    assert_eq!(repos.head("main"), main_before);

    app.patch(&format!("/v1/tasks/{task}"), json!({"require_pr_approval": true})).await;
    app.post(&prs, json!({"title": "Docs", "head_branch": "docs"})).await;
    let (status, body) = app.request(Method::POST, &format!("{prs}/2/merge"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "APPROVAL_REQUIRED");
    assert_eq!(repos.head("main"), main_before);
    app.request(Method::POST, &format!("{prs}/2/approve"), None).await;
    let (status, body) = app.request(Method::POST, &format!("{prs}/2/merge"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(repos.head("main"), main_before);
    assert_eq!(git(&repos.repo(), &["show", "main:DOCS.md"]), "docs");
}

#[tokio::test]
async fn without_a_repositories_directory_tasks_cannot_link_one() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("t").await;
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"repository": "acme/app.git"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "repository");
}

/// A second owner pointing their task at the first owner's repository: refused
/// at link time (under any spelling of the repository), and once the operator
/// takes a grant back, refused at use time too.
async fn repositories_belong_to_the_owners_they_are_granted_to(app: TestApp, repos: Repos) {
    let (alices_task, _) = task_and_viewer(&app, json!({})).await;
    app.patch(&format!("/v1/tasks/{alices_task}"), json!({"require_pr_approval": true})).await;
    std::os::unix::fs::symlink(repos.repo(), repos.root.path().join("alias.git")).unwrap();
    let bob = app.new_owner("bob").await;
    let (_, task) =
        app.request_as(Some(&bob), Method::POST, "/v1/tasks", Some(json!({"title": "bob's"}))).await;
    let bobs = format!("/v1/tasks/{}", task["data"]["task_id"].as_str().unwrap());
    let link = |name: &str| {
        app.request_as(
            Some(&bob),
            Method::PATCH,
            &bobs,
            Some(json!({"repository": name, "base_branch": "main"})),
        )
    };
    let (_, missing) = link("acme/missing.git").await;
    for name in ["acme/app.git", "alias.git", "acme/app.git/."] {
        let (status, body) = link(name).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_invalid(&body, "repository");
        if !name.ends_with('.') {
            assert_eq!(
                body["error"]["message"].as_str().unwrap().replace(name, "?"),
                missing["error"]["message"].as_str().unwrap().replace("acme/missing.git", "?"),
                "a repository of another owner looks like one that does not exist"
            );
        }
    }
    let (status, body) = app
        .request_as(
            Some(&bob),
            Method::POST,
            &format!("{bobs}/pull-requests"),
            Some(json!({"title": "x", "head_branch": "feature"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "NO_REPOSITORY");
    let (status, _) =
        app.patch(&format!("/v1/tasks/{alices_task}"), json!({"repository": "alias.git"})).await;
    assert_eq!(status, StatusCode::OK, "alice may use her repository under another name");

    // The operator shares the repository with bob, then takes it back.
    repos.grant(&app, "bob", "alias.git");
    let (ok, listed, _) =
        agentshare(&["repositories", "list", "--owner", "bob", "--database-url", &app.db.url]);
    assert!(
        ok && listed.contains("acme/app.git"),
        "grants are kept by the repository's one spelling: {listed}"
    );
    let (status, body) = link("acme/app.git").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let prs = format!("{bobs}/pull-requests");
    let (status, body) = app
        .request_as(Some(&bob), Method::POST, &prs, Some(json!({"title": "Docs", "head_branch": "docs"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    repos.operator(&app, "revoke", "bob", "acme/app.git");
    let main_before = repos.head("main");
    for (method, path) in [(Method::GET, format!("{prs}/1")), (Method::POST, format!("{prs}/1/merge"))] {
        let (status, body) = app.request_as(Some(&bob), method, &path, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert_error(&body, "REPOSITORY_NOT_GRANTED");
    }
    assert_eq!(repos.head("main"), main_before, "nothing merged into alice's main");
    let (status, _) = app.get(&format!("/v1/tasks/{alices_task}/pull-requests")).await;
    assert_eq!(status, StatusCode::OK, "alice keeps her repository");
}
