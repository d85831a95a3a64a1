//! Pull requests between branches of git repositories.
//!
//! A pull request here is a pair of branches in one repository: `head`, whose work is offered,
//! and `base`, which receives it. This module can show what merging `head` into `base` would
//! change (the three-dot diff `base...head`, the way code review tools show it) and perform the
//! merge.
//!
//! # Design
//!
//! * **Where repositories live.** The operator configures one directory ([`Repositories`]);
//!   a task names a repository by a relative name under it. Names are checked lexically first
//!   and then canonicalised, so neither `..` nor a symlink can reach a repository outside the
//!   directory, and the result must be the top of a git repository (bare or not), never some
//!   directory inside one.
//! * **What a forge does.** The [`Forge`] trait is the whole surface the service uses: resolve a
//!   branch, diff two branches, merge one into the other. [`GitCli`] implements it by running the
//!   `git` command line; a hosted forge could implement the same trait later.
//! * **No working tree.** Merges are computed with `git merge-tree --write-tree`, recorded with
//!   `git commit-tree`, and published with `git update-ref`, so they work on bare repositories
//!   and never touch files on disk. In a non-bare repository the working tree and index are
//!   left alone as well, so if `base` is checked out there, its files look out of date to
//!   whoever works in that tree (the situation `git push` refuses by default); repositories
//!   that the service merges into are best kept bare.
//! * **Concurrency.** The branch is moved with a compare-and-swap (`update-ref <ref> <new>
//!   <old>`): if anyone moved `base` while a merge was being computed, nothing is changed and
//!   the caller learns it ([`MergeOutcome::BaseMoved`]) and can retry.
//! * **Untrusted input.** Branch names are checked with git's own rules
//!   ([`check_branch_name`]) and always passed to git as full refs (`refs/heads/<name>`); the
//!   other arguments are object ids that git printed (and that were checked to be hex), values
//!   of options, or the canonical repository path; the merge message goes through stdin. So no
//!   input can be read as an option.
//! * **Blocking.** Every method blocks on child processes; the service runs them in
//!   `tokio::task::spawn_blocking`.

mod git;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use git::GitCli;

/// The forge and the directory repositories live in, when `--repositories-dir` is set.
#[derive(Clone)]
pub struct Forges {
    pub repositories: Repositories,
    pub forge: Arc<dyn Forge>,
}

impl Forges {
    /// Repositories under `root`, worked on with the `git` command line.
    pub fn git(root: PathBuf) -> Forges {
        Forges { repositories: Repositories::new(root), forge: Arc::new(GitCli) }
    }
}

/// The largest unified patch [`Forge::diff`] returns, in bytes; longer patches are cut at a line
/// boundary and flagged with [`Diff::patch_truncated`].
pub const MAX_PATCH_BYTES: usize = 1024 * 1024;

/// The longest repository name accepted by [`Repositories::open`], in characters.
const MAX_REPOSITORY_NAME_CHARS: usize = 200;

/// Where repositories may live: a directory configured by the operator (`--repositories-dir`).
///
/// A task names a repository by a relative name under it (e.g. `"acme/web"` or `"web.git"`);
/// [`Repositories::open`] turns such a name into a [`Repository`] only when it really is a git
/// repository inside this directory.
#[derive(Debug, Clone)]
pub struct Repositories {
    root: PathBuf,
}

impl Repositories {
    /// Repositories under `root`. The directory is only looked at when a repository is opened,
    /// so it may be created after the service starts.
    pub fn new(root: impl Into<PathBuf>) -> Repositories {
        Repositories { root: root.into() }
    }

    /// The configured directory, as given to [`Repositories::new`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a repository name to a repository the service may operate on.
    ///
    /// Rejects empty names, names longer than 200 characters, absolute paths, `.` and `..`
    /// components, empty components (`a//b`, a trailing `/`), backslashes and control
    /// characters. The remaining name is joined to the root and canonicalised, so symlinks are
    /// followed before checking that the result is strictly inside the (canonicalised) root.
    /// Finally the directory must be the top of a git repository: a bare repository, the
    /// working tree of a non-bare one, or a `.git` directory itself.
    ///
    /// # Errors
    ///
    /// [`ForgeError::InvalidRepository`] for every reason above; its message mentions the
    /// name the caller gave, never the server's paths. [`ForgeError::Git`] when git cannot run
    /// or refuses the repository for another reason (e.g. `safe.directory` ownership checks),
    /// so that the operator sees git's explanation.
    pub fn open(&self, name: &str) -> Result<Repository, ForgeError> {
        if let Some(problem) = repository_name_problem(name) {
            return Err(ForgeError::InvalidRepository(format!("{name:?}: {problem}")));
        }
        let root = self.root.canonicalize().map_err(|err| {
            ForgeError::InvalidRepository(format!("the repositories directory is unavailable: {err}"))
        })?;
        let path = root
            .join(name)
            .canonicalize()
            .map_err(|_| ForgeError::InvalidRepository(format!("{name:?}: no such repository")))?;
        // Checked after canonicalising: a symlink inside the root may point anywhere.
        if path == root || !path.starts_with(&root) {
            return Err(ForgeError::InvalidRepository(format!(
                "{name:?}: outside the repositories directory"
            )));
        }
        if !path.is_dir() || !git::is_repository_top(&path)? {
            return Err(ForgeError::InvalidRepository(format!("{name:?}: not a git repository")));
        }
        // `web/.git` is the repository whose working tree is `web`: one key for both.
        let top = match path.file_name() {
            Some(file) if file == ".git" && path.parent().is_some_and(|parent| parent != root) => {
                path.parent().unwrap_or(&path)
            }
            _ => &path,
        };
        let key = top
            .strip_prefix(&root)
            .map(|relative| {
                relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
            })
            .unwrap_or_else(|_| name.to_owned());
        Ok(Repository { name: name.to_owned(), key, path })
    }
}

/// Why `name` cannot name a repository, or `None` when it can (lexically; the file system is
/// checked by [`Repositories::open`]).
pub fn repository_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.chars().count() > MAX_REPOSITORY_NAME_CHARS {
        return Some("name too long");
    }
    if name.chars().any(char::is_control) {
        return Some("control characters are not allowed");
    }
    if name.contains('\\') {
        return Some("backslashes are not allowed");
    }
    if name.starts_with('/') || Path::new(name).is_absolute() {
        return Some("absolute paths are not allowed");
    }
    // Splitting by hand rather than with `Path::components`, which silently drops `.` and
    // doubled slashes: a name should have one spelling.
    for component in name.split('/') {
        match component {
            "" => return Some("empty path components are not allowed"),
            "." | ".." => return Some("`.` and `..` components are not allowed"),
            _ => {}
        }
    }
    None
}

/// A git repository the service may operate on, obtained from [`Repositories::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The name it was opened by, relative to the repositories directory.
    name: String,
    /// Its one spelling: the path relative to the repositories directory with
    /// symlinks followed.
    key: String,
    /// Canonical absolute path: of the repository itself when bare, of the working tree
    /// otherwise.
    path: PathBuf,
}

impl Repository {
    /// The name the repository was opened by, e.g. `"acme/web"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What identifies the repository whatever name opened it: its path relative
    /// to the repositories directory, with symlinks followed and a `.git`
    /// directory standing for its working tree (e.g. `"acme/web"` for the names
    /// `"acme/web"`, `"acme/web/.git"` and a symlink `"web"` to it). Grants of
    /// repositories to owners are kept by this key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The repository's canonical path on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The operations a forge offers.
///
/// [`GitCli`] implements them with the git command line; another forge (e.g. a hosted one)
/// could be added behind the same trait. Methods are blocking: the service calls them inside
/// `tokio::task::spawn_blocking`.
pub trait Forge: Send + Sync + 'static {
    /// The commit a branch points at, or `None` when there is no such branch.
    ///
    /// # Errors
    ///
    /// [`ForgeError::InvalidBranch`] for a name [`check_branch_name`] refuses, and
    /// [`ForgeError::Git`] when git fails.
    fn branch_head(&self, repo: &Repository, branch: &str) -> Result<Option<String>, ForgeError>;

    /// What merging `head` into `base` would change: the three-dot diff `base...head`, i.e. the
    /// changes on `head` since it diverged from `base`.
    ///
    /// # Errors
    ///
    /// [`ForgeError::InvalidBranch`] for a name [`check_branch_name`] refuses,
    /// [`ForgeError::BranchNotFound`] when either branch is missing,
    /// [`ForgeError::UnrelatedHistories`] when they share no commit, and [`ForgeError::Git`]
    /// when git fails.
    fn diff(&self, repo: &Repository, base: &str, head: &str) -> Result<Diff, ForgeError>;

    /// Merges branch `head` into branch `base`: a fast-forward when `base` is an ancestor of
    /// `head`, otherwise a merge commit with the parents `base` and `head`, the given `message`,
    /// and `author` as both author and committer. Works on bare repositories; the branch is
    /// moved with a compare-and-swap, so a concurrent update of `base` yields
    /// [`MergeOutcome::BaseMoved`] rather than lost work.
    ///
    /// Conflicts, an already merged `head` and a moved `base` are outcomes, not errors: in each
    /// case nothing was changed.
    ///
    /// # Errors
    ///
    /// [`ForgeError::InvalidBranch`] for a name [`check_branch_name`] refuses,
    /// [`ForgeError::InvalidMergeCommit`] for an unacceptable author or a message containing
    /// NUL, [`ForgeError::BranchNotFound`] when either branch is missing,
    /// [`ForgeError::UnrelatedHistories`] when they share no commit, and [`ForgeError::Git`]
    /// when git fails.
    fn merge(
        &self,
        repo: &Repository,
        base: &str,
        head: &str,
        message: &str,
        author: &Signature,
    ) -> Result<MergeOutcome, ForgeError>;
}

/// Who a merge commit is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Display name; must not be empty or contain `<`, `>` or control characters.
    pub name: String,
    /// Email address; must not be empty or contain `<`, `>` or control characters.
    pub email: String,
}

impl Signature {
    /// Refuses what git would silently alter or reject in an identity, so the commit records
    /// exactly the name and email the service asked for.
    fn check(&self) -> Result<(), ForgeError> {
        for (what, value) in [("name", &self.name), ("email", &self.email)] {
            if value.trim().is_empty() {
                return Err(ForgeError::InvalidMergeCommit(format!("author {what} is empty")));
            }
            if value.chars().any(|c| c.is_control() || c == '<' || c == '>') {
                return Err(ForgeError::InvalidMergeCommit(format!(
                    "author {what} contains `<`, `>` or control characters"
                )));
            }
        }
        Ok(())
    }
}

/// What merging one branch into another would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The commit `base` points at.
    pub base_sha: String,
    /// The commit `head` points at.
    pub head_sha: String,
    /// The common ancestor the changes are measured from.
    pub merge_base_sha: String,
    /// Changed files, in git's order (by path).
    pub files: Vec<FileChange>,
    /// Lines added, summed over the non-binary files.
    pub insertions: u64,
    /// Lines removed, summed over the non-binary files.
    pub deletions: u64,
    /// Unified patch text, at most [`MAX_PATCH_BYTES`] (cut at a line boundary when longer).
    /// Bytes that are not UTF-8 are replaced with U+FFFD.
    pub patch: String,
    /// Whether `patch` was cut short.
    pub patch_truncated: bool,
}

/// One changed file in a [`Diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The file's path on `head` (for deletions, its path on the merge base). Bytes that are not
    /// UTF-8 are replaced with U+FFFD.
    pub path: String,
    /// For renames and copies, the previous path.
    pub old_path: Option<String>,
    /// How the file changed.
    pub status: ChangeStatus,
    /// Lines added (0 for binary files).
    pub insertions: u64,
    /// Lines removed (0 for binary files).
    pub deletions: u64,
    /// Binary files have no line counts.
    pub binary: bool,
}

/// How a file changed between the merge base and `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeStatus {
    /// The file is new.
    Added,
    /// The file's content (or mode) changed.
    Modified,
    /// The file was removed.
    Deleted,
    /// The file was moved, perhaps with changes; see [`FileChange::old_path`].
    Renamed,
    /// The file is a copy of another, perhaps with changes; see [`FileChange::old_path`].
    Copied,
    /// The file changed kind, e.g. from a regular file to a symlink.
    TypeChanged,
}

impl ChangeStatus {
    /// A stable lower-case name: `"added"`, `"modified"`, `"deleted"`, `"renamed"`, `"copied"`
    /// or `"type_changed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Added => "added",
            ChangeStatus::Modified => "modified",
            ChangeStatus::Deleted => "deleted",
            ChangeStatus::Renamed => "renamed",
            ChangeStatus::Copied => "copied",
            ChangeStatus::TypeChanged => "type_changed",
        }
    }
}

impl fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of [`Forge::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// `commit` is the new head of base.
    Merged {
        /// The commit `base` now points at: `head`'s commit for a fast-forward, otherwise the
        /// new merge commit.
        commit: String,
        /// Whether `base` was simply moved forward to `head`.
        fast_forward: bool,
    },
    /// The branches conflict; nothing was changed.
    Conflict {
        /// Conflicting paths, sorted.
        paths: Vec<String>,
    },
    /// `head` is already contained in `base`; nothing to do.
    AlreadyMerged,
    /// `base` moved while merging (the compare-and-swap failed); nothing was changed.
    BaseMoved,
}

/// Why a forge operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The repository name is not acceptable, or names no repository.
    #[error("invalid repository: {0}")]
    InvalidRepository(String),
    /// A branch that an operation needs does not exist.
    #[error("no branch named {0}")]
    BranchNotFound(String),
    /// A branch name breaks git's rules (see [`check_branch_name`]).
    #[error("invalid branch name: {0}")]
    InvalidBranch(String),
    /// The two branches share no commit, so there is nothing to compare or merge them from.
    #[error("branches {base} and {head} have no common history")]
    UnrelatedHistories {
        /// The branch that would receive the changes.
        base: String,
        /// The branch whose changes were offered.
        head: String,
    },
    /// The merge commit's author or message is not acceptable.
    #[error("invalid merge commit: {0}")]
    InvalidMergeCommit(String),
    /// git could not be run, failed, or printed something unexpected.
    #[error("git failed: {0}")]
    Git(String),
}

/// Checks a branch name the way `git check-ref-format --branch` does, and also refuses names
/// starting with `-` so they can never be read as options.
///
/// The rules (from git-check-ref-format(1)): a name must not be empty, `HEAD` or `@`; must not
/// contain `..`, `@{`, a backslash, a space, ASCII control characters, or any of `~ ^ : ? * [`;
/// must not start or end with `/` or contain `//`; must not end with `.`; and no `/`-separated
/// component may start with `.` or end with `.lock`. Unlike `git check-ref-format --branch`,
/// `@{-1}`-style shorthands are refused rather than expanded.
///
/// # Errors
///
/// [`ForgeError::InvalidBranch`], naming the rule that was broken.
pub fn check_branch_name(name: &str) -> Result<(), ForgeError> {
    match branch_name_problem(name) {
        Some(problem) => Err(ForgeError::InvalidBranch(format!("{name:?}: {problem}"))),
        None => Ok(()),
    }
}

/// Why `name` is not a valid branch name, or `None` when it is.
fn branch_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.starts_with('-') {
        return Some("must not start with `-`");
    }
    if name == "HEAD" || name == "@" {
        return Some("reserved name");
    }
    if name.chars().any(|c| c.is_ascii_control()) {
        return Some("control characters are not allowed");
    }
    if let Some(c) = name.chars().find(|c| matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return Some(match c {
            ' ' => "spaces are not allowed",
            '\\' => "backslashes are not allowed",
            _ => "`~`, `^`, `:`, `?`, `*` and `[` are not allowed",
        });
    }
    if name.contains("..") {
        return Some("`..` is not allowed");
    }
    if name.contains("@{") {
        return Some("`@{` is not allowed");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("must not start or end with `/` or contain `//`");
    }
    if name.ends_with('.') {
        return Some("must not end with `.`");
    }
    if name.split('/').any(|component| component.starts_with('.') || component.ends_with(".lock")) {
        return Some("no component may start with `.` or end with `.lock`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::git::tests::{git_ok, init_repo};
    use super::*;

    use std::fs;

    use tempfile::TempDir;

    #[test]
    fn branch_names_git_rejects_are_rejected() {
        for name in [
            "-x",
            "a..b",
            "a b",
            "a~1",
            "",
            "x.lock",
            "@{u}",
            "HEAD",
            "@",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a\tb",
            "a\u{7f}",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a/b.lock/c",
            "a@{1}",
        ] {
            assert!(
                matches!(check_branch_name(name), Err(ForgeError::InvalidBranch(_))),
                "{name:?} should be rejected"
            );
        }
    }

    #[test]
    fn ordinary_branch_names_are_accepted() {
        for name in ["feature/login-fix", "main", "a.b", "release-1.2", "x/y/z", "caf\u{e9}", "a@b", "a-"] {
            assert!(check_branch_name(name).is_ok(), "{name:?} should be accepted");
        }
    }

    /// The hand-written rules agree with git itself. `@` and `@{...}` are left out: git expands
    /// those shorthands, this module refuses them.
    #[test]
    fn branch_name_rules_agree_with_git() {
        let dir = TempDir::new().expect("temp dir");
        for name in [
            "feature/login-fix",
            "a..b",
            "a b",
            "a~1",
            "x.lock",
            "a/.b",
            ".a",
            "a.",
            "/a",
            "a/",
            "a//b",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a^b",
            "HEAD",
            "-x",
            "a.lock/b",
            "a.locks",
            "caf\u{e9}",
            "a@b",
            "a/b/c",
        ] {
            let git_accepts = git::command(dir.path())
                .args(["check-ref-format", "--branch"])
                .arg(name)
                .output()
                .expect("run git check-ref-format")
                .status
                .success();
            assert_eq!(check_branch_name(name).is_ok(), git_accepts, "disagreement with git on {name:?}");
        }
    }

    /// A repositories directory holding a bare repository at `team/app.git` and a non-bare one
    /// at `work`.
    fn repositories() -> (TempDir, Repositories) {
        let dir = TempDir::new().expect("temp dir");
        fs::create_dir_all(dir.path().join("team")).expect("mkdir team");
        git_ok(dir.path(), &["init", "-q", "--bare", "team/app.git"]);
        init_repo(&dir.path().join("work"));
        let repositories = Repositories::new(dir.path());
        (dir, repositories)
    }

    fn assert_invalid(repositories: &Repositories, name: &str) {
        match repositories.open(name) {
            Err(ForgeError::InvalidRepository(message)) => {
                assert!(!message.contains("/tmp"), "message leaks a server path: {message}")
            }
            other => panic!("{name:?} should be an invalid repository, got {other:?}"),
        }
    }

    #[test]
    fn open_accepts_nested_bare_and_non_bare_repositories() {
        let (dir, repositories) = repositories();
        let root = dir.path().canonicalize().expect("canonical root");

        let bare = repositories.open("team/app.git").expect("open bare repository");
        assert_eq!(bare.name(), "team/app.git");
        assert_eq!(bare.path(), root.join("team/app.git"));

        let work = repositories.open("work").expect("open non-bare repository");
        assert_eq!(work.path(), root.join("work"));

        // The `.git` directory of a non-bare repository is a repository too.
        let git_dir = repositories.open("work/.git").expect("open .git directory");
        assert_eq!(git_dir.path(), root.join("work/.git"));
    }

    #[test]
    fn open_rejects_names_that_could_escape_the_root() {
        let (_dir, repositories) = repositories();
        for name in [
            "../x",
            "/etc",
            "a/../../b",
            "",
            "team/../work",
            "./work",
            "work/",
            "team//app.git",
            "team\\app.git",
            "work\0",
            "work\n",
        ] {
            assert_invalid(&repositories, name);
        }
        assert_invalid(&repositories, &"a".repeat(MAX_REPOSITORY_NAME_CHARS + 1));
    }

    #[test]
    fn open_rejects_what_is_not_a_repository() {
        let (dir, repositories) = repositories();
        fs::create_dir_all(dir.path().join("plain/dir")).expect("mkdir");
        fs::create_dir_all(dir.path().join("work/src")).expect("mkdir");
        fs::write(dir.path().join("file"), "not a repository").expect("write");

        assert_invalid(&repositories, "plain");
        assert_invalid(&repositories, "plain/dir");
        assert_invalid(&repositories, "missing");
        assert_invalid(&repositories, "file");
        // Inside a repository is not the repository.
        assert_invalid(&repositories, "work/src");
        assert_invalid(&repositories, "team/app.git/refs");
    }

    #[cfg(unix)]
    #[test]
    fn open_follows_symlinks_only_within_the_root() {
        use std::os::unix::fs::symlink;

        let (dir, repositories) = repositories();
        let outside = TempDir::new().expect("temp dir");
        init_repo(&outside.path().join("secret"));
        symlink(outside.path().join("secret"), dir.path().join("escape")).expect("symlink");
        symlink(dir.path(), dir.path().join("itself")).expect("symlink");
        symlink(dir.path().join("team/app.git"), dir.path().join("alias.git")).expect("symlink");

        assert_invalid(&repositories, "escape");
        assert_invalid(&repositories, "itself");
        let alias = repositories.open("alias.git").expect("symlink inside the root");
        let root = dir.path().canonicalize().expect("canonical root");
        assert_eq!(alias.path(), root.join("team/app.git"));
    }

    #[test]
    fn open_reports_a_missing_root() {
        let dir = TempDir::new().expect("temp dir");
        let repositories = Repositories::new(dir.path().join("absent"));
        assert!(matches!(repositories.open("web"), Err(ForgeError::InvalidRepository(_))));
    }

    #[test]
    fn change_status_names_are_stable() {
        assert_eq!(ChangeStatus::Added.as_str(), "added");
        assert_eq!(ChangeStatus::Modified.to_string(), "modified");
        assert_eq!(ChangeStatus::Deleted.as_str(), "deleted");
        assert_eq!(ChangeStatus::Renamed.as_str(), "renamed");
        assert_eq!(ChangeStatus::Copied.as_str(), "copied");
        assert_eq!(ChangeStatus::TypeChanged.as_str(), "type_changed");
    }

    #[test]
    fn signatures_git_would_alter_are_refused() {
        let ok = Signature { name: "Ada Lovelace".into(), email: "ada@example.com".into() };
        assert!(ok.check().is_ok());
        for (name, email) in [("", "a@b"), ("Ada", " "), ("Ada <x>", "a@b"), ("Ada", "a@b>"), ("A\nB", "a@b")]
        {
            let signature = Signature { name: name.into(), email: email.into() };
            assert!(
                matches!(signature.check(), Err(ForgeError::InvalidMergeCommit(_))),
                "{signature:?} should be refused"
            );
        }
    }
}
