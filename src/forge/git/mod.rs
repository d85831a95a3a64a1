//! [`Forge`] implemented with the `git` command line.
//!
//! Every operation is a handful of plumbing commands whose output formats are documented and
//! stable: `for-each-ref` to read branches, `merge-base`, `diff` with `-z` output for file lists,
//! and `merge-tree --write-tree`, `commit-tree` and `update-ref` to merge without a working
//! tree. git runs with a cleaned environment (see [`command`]) so that nothing inherited from the
//! service's own environment can point it at another repository or change its output.

mod output;
mod run;

use std::path::Path;
use std::process::{Command, Stdio};

use output::{combine, object_id, parse_name_status, parse_numstat, truncate_patch, unexpected, utf8};
use run::{run, run_capped, run_ok, run_with_input};

use super::{
    check_branch_name, Diff, Forge, ForgeError, MergeOutcome, Repository, Signature, MAX_PATCH_BYTES,
};

/// [`Forge`] backed by the `git` executable found on `PATH` (git 2.38 or newer, for
/// `merge-tree --write-tree`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GitCli;

impl GitCli {
    /// A forge that runs `git`.
    pub fn new() -> GitCli {
        GitCli
    }
}

impl Forge for GitCli {
    fn branch_head(&self, repo: &Repository, branch: &str) -> Result<Option<String>, ForgeError> {
        check_branch_name(branch)?;
        read_branch(repo.path(), branch)
    }

    fn diff(&self, repo: &Repository, base: &str, head: &str) -> Result<Diff, ForgeError> {
        check_branch_name(base)?;
        check_branch_name(head)?;
        let dir = repo.path();
        let base_sha = resolve_branch(dir, base)?;
        let head_sha = resolve_branch(dir, head)?;
        let merge_base_sha = merge_base(dir, &base_sha, &head_sha)?
            .ok_or_else(|| ForgeError::UnrelatedHistories { base: base.to_owned(), head: head.to_owned() })?;

        // Diffing from the merge base we computed, rather than asking git for `base...head`,
        // guarantees that the patch, the file list and `merge_base_sha` all describe the same
        // comparison, even when criss-cross history gives several merge bases.
        let range = [merge_base_sha.as_str(), head_sha.as_str()];
        let statuses = parse_name_status(&run_ok(diff_command(dir, "--name-status", &range))?)?;
        let counts = parse_numstat(&run_ok(diff_command(dir, "--numstat", &range))?)?;
        let files = combine(statuses, counts)?;
        let insertions = files.iter().map(|file| file.insertions).sum();
        let deletions = files.iter().map(|file| file.deletions).sum();

        let raw_patch = run_capped(diff_command(dir, "--patch", &range), MAX_PATCH_BYTES)?;
        let (patch, patch_truncated) = truncate_patch(&raw_patch, MAX_PATCH_BYTES);

        Ok(Diff { base_sha, head_sha, merge_base_sha, files, insertions, deletions, patch, patch_truncated })
    }

    fn merge(
        &self,
        repo: &Repository,
        base: &str,
        head: &str,
        message: &str,
        author: &Signature,
    ) -> Result<MergeOutcome, ForgeError> {
        check_branch_name(base)?;
        check_branch_name(head)?;
        author.check()?;
        if message.contains('\0') {
            return Err(ForgeError::InvalidMergeCommit("the message contains a NUL character".into()));
        }
        let dir = repo.path();
        let base_sha = resolve_branch(dir, base)?;
        let head_sha = resolve_branch(dir, head)?;

        if is_ancestor(dir, &head_sha, &base_sha)? {
            return Ok(MergeOutcome::AlreadyMerged);
        }
        if is_ancestor(dir, &base_sha, &head_sha)? {
            let reflog = format!("merge {head}: fast-forward");
            return update_branch(dir, base, &head_sha, &base_sha, &reflog, author, true);
        }
        // merge-tree refuses unrelated histories with a generic failure; checking first lets
        // the caller tell the user what is wrong.
        if merge_base(dir, &base_sha, &head_sha)?.is_none() {
            return Err(ForgeError::UnrelatedHistories { base: base.to_owned(), head: head.to_owned() });
        }
        let tree = match merge_tree(dir, &base_sha, &head_sha)? {
            TreeMerge::Clean { tree } => tree,
            TreeMerge::Conflicted { paths } => return Ok(MergeOutcome::Conflict { paths }),
        };
        let commit = commit_tree(dir, &tree, &base_sha, &head_sha, message, author)?;
        update_branch(dir, base, &commit, &base_sha, &format!("merge {head}"), author, false)
    }
}

/// Whether `path` is the top of a git repository: a bare repository, a `.git` directory, or
/// the working tree of a non-bare repository (and not merely a directory inside one).
///
/// Fails (rather than answering `false`) when git refuses the repository for another reason,
/// such as `safe.directory` ownership checks, so that the operator sees git's explanation.
pub(super) fn is_repository_top(path: &Path) -> Result<bool, ForgeError> {
    let mut cmd = command(path);
    // Stop git from looking for a repository above `path`: a directory inside a repository is
    // not one, and a repository further up may belong to someone else, which git would
    // rightly refuse with a more alarming error.
    if let Some(parent) = path.parent() {
        cmd.env("GIT_CEILING_DIRECTORIES", parent);
    }
    let output = run(cmd.args(["rev-parse", "--is-bare-repository", "--absolute-git-dir"]))?;
    if !output.status.success() {
        return if output.stderr_text().contains("not a git repository") {
            Ok(false)
        } else {
            Err(output.failure("rev-parse"))
        };
    }
    let stdout = utf8(output.stdout, "rev-parse")?;
    let mut lines = stdout.lines();
    let (Some(bare), Some(git_dir)) = (lines.next(), lines.next()) else {
        return Err(unexpected("rev-parse", &stdout));
    };
    if same_dir(Path::new(git_dir), path) {
        return Ok(true);
    }
    if bare == "true" {
        // A directory inside a bare repository, such as its `refs`.
        return Ok(false);
    }
    let toplevel = utf8(run_ok(command(path).args(["rev-parse", "--show-toplevel"]))?, "rev-parse")?;
    Ok(same_dir(Path::new(toplevel.trim_end_matches('\n')), path))
}

/// Whether two paths name the same directory once symlinks are resolved.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Environment variables that are kept when running git: they say where git's own programs
/// are and which configuration files the operator wants it to read (e.g. for
/// `safe.directory`), not which repository to use.
const KEPT_GIT_VARIABLES: [&str; 4] =
    ["GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_EXEC_PATH"];

/// A `git` command run in `dir`, with a controlled environment.
///
/// Every other inherited `GIT_*` variable is removed: `GIT_DIR`, `GIT_WORK_TREE`,
/// `GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY` and friends would silently make git operate on
/// something other than `dir`, identities would override the merge author, and
/// `GIT_CONFIG_PARAMETERS` would inject configuration. `LC_ALL=C` keeps messages parseable,
/// `GIT_TERMINAL_PROMPT=0` stops git from ever waiting for a password, and stdin is closed
/// unless a caller supplies input.
pub(super) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str() {
            if key.starts_with("GIT_") && !KEPT_GIT_VARIABLES.contains(&key) {
                cmd.env_remove(key);
            }
        }
    }
    cmd.env("LC_ALL", "C").env("GIT_TERMINAL_PROMPT", "0").arg("-C").arg(dir).stdin(Stdio::null());
    cmd
}

/// `git diff` from `range[0]` to `range[1]` in one of three formats: `--name-status`,
/// `--numstat` (both NUL-separated) or `--patch`.
///
/// Options that repository or user configuration could otherwise change are pinned: colour,
/// external diff drivers, textconv filters, path prefixes and submodule formatting, so the
/// output is the same raw, parseable diff everywhere.
fn diff_command(dir: &Path, format: &str, range: &[&str; 2]) -> Command {
    let mut cmd = command(dir);
    cmd.args([
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--find-renames",
        "--submodule=short",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        format,
    ]);
    if format != "--patch" {
        cmd.arg("-z");
    }
    cmd.args(range).arg("--");
    cmd
}

/// The commit `refs/heads/<branch>` points at, or `None` when there is no such branch.
///
/// `for-each-ref` matches the ref exactly, whereas `rev-parse refs/heads/x` would fall back to
/// other refs (e.g. `refs/heads/refs/heads/x`) when the branch is missing. Branch names cannot
/// contain glob characters (see [`check_branch_name`]), so the pattern is literal.
fn read_branch(dir: &Path, branch: &str) -> Result<Option<String>, ForgeError> {
    let refname = format!("refs/heads/{branch}");
    let stdout = utf8(
        run_ok(
            command(dir)
                .args(["for-each-ref", "--format=%(objecttype) %(objectname) %(refname)"])
                .arg(&refname),
        )?,
        "for-each-ref",
    )?;
    for line in stdout.lines() {
        let mut fields = line.splitn(3, ' ');
        let (Some(kind), Some(sha), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(unexpected("for-each-ref", line));
        };
        if name != refname {
            continue;
        }
        if kind != "commit" {
            return Err(ForgeError::Git(format!("{refname} points at a {kind}, not a commit")));
        }
        return object_id(sha, "for-each-ref").map(Some);
    }
    Ok(None)
}

/// Like [`read_branch`], but a missing branch is an error.
fn resolve_branch(dir: &Path, branch: &str) -> Result<String, ForgeError> {
    read_branch(dir, branch)?.ok_or_else(|| ForgeError::BranchNotFound(branch.to_owned()))
}

/// The best common ancestor of two commits, or `None` when they share no history.
fn merge_base(dir: &Path, a: &str, b: &str) -> Result<Option<String>, ForgeError> {
    let output = run(command(dir).args(["merge-base", a, b]))?;
    match output.status.code() {
        Some(0) => object_id(&utf8(output.stdout, "merge-base")?, "merge-base").map(Some),
        // Exit status 1 without a message means "no common ancestor".
        Some(1) if output.stderr.is_empty() => Ok(None),
        _ => Err(output.failure("merge-base")),
    }
}

/// Whether commit `ancestor` is reachable from commit `descendant` (a commit is its own
/// ancestor).
fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
    let output = run(command(dir).args(["merge-base", "--is-ancestor", ancestor, descendant]))?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(output.failure("merge-base --is-ancestor")),
    }
}

/// The result of merging two commits' trees.
#[derive(Debug, PartialEq, Eq)]
enum TreeMerge {
    /// The merged tree, already written to the object database.
    Clean { tree: String },
    /// The paths that conflict, sorted and without duplicates.
    Conflicted { paths: Vec<String> },
}

/// Merges the trees of two commits without a working tree or index.
///
/// With `-z --name-only --no-messages`, `git merge-tree --write-tree` prints the tree id and,
/// when there are conflicts, each conflicted path, all NUL-terminated; it exits with 0 for a
/// clean merge and 1 for conflicts.
fn merge_tree(dir: &Path, ours: &str, theirs: &str) -> Result<TreeMerge, ForgeError> {
    let output = run(command(dir).args([
        "merge-tree",
        "--write-tree",
        "-z",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
    ]))?;
    let clean = match output.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => return Err(output.failure("merge-tree")),
    };
    let mut fields = output.stdout.split(|&byte| byte == 0);
    let tree = object_id(&String::from_utf8_lossy(fields.next().unwrap_or_default()), "merge-tree")?;
    if clean {
        return Ok(TreeMerge::Clean { tree });
    }
    let mut paths: Vec<String> = fields
        .take_while(|field| !field.is_empty())
        .map(|field| String::from_utf8_lossy(field).into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    if paths.is_empty() {
        return Err(unexpected("merge-tree", "conflicts reported without conflicting paths"));
    }
    Ok(TreeMerge::Conflicted { paths })
}

/// Writes a merge commit of `tree` with the parents `first` and `second`, attributed to
/// `author` (as author and committer), and returns its id.
///
/// The message goes through stdin rather than `-m`, so its length is not limited by the
/// operating system's argument size. Signing is turned off explicitly: a `commit.gpgSign`
/// setting would otherwise make the merge depend on a key and agent the service does not have.
fn commit_tree(
    dir: &Path,
    tree: &str,
    first: &str,
    second: &str,
    message: &str,
    author: &Signature,
) -> Result<String, ForgeError> {
    let mut message = message.to_owned();
    // `commit-tree -m` ends the message with a newline; do the same for stdin, so the merge
    // commit looks like any other.
    if !message.is_empty() && !message.ends_with('\n') {
        message.push('\n');
    }
    let mut cmd = command(dir);
    with_identity(&mut cmd, author);
    cmd.args(["commit-tree", "--no-gpg-sign", "-p", first, "-p", second, "-F", "-", tree]);
    let output = run_with_input(cmd, message.as_bytes())?;
    if !output.status.success() {
        return Err(output.failure("commit-tree"));
    }
    object_id(&utf8(output.stdout, "commit-tree")?, "commit-tree")
}

/// Moves `refs/heads/<branch>` from `old` to `new`, unless it no longer points at `old`.
///
/// `git update-ref <ref> <new> <old>` takes the ref's lock and compares before writing, so
/// two merges racing for the same branch cannot both succeed. When the update fails, the branch
/// is read again: if it moved, the caller gets [`MergeOutcome::BaseMoved`]; otherwise the
/// failure was something else (a stale lock file, permissions) and is reported as an error.
fn update_branch(
    dir: &Path,
    branch: &str,
    new: &str,
    old: &str,
    reflog_message: &str,
    who: &Signature,
    fast_forward: bool,
) -> Result<MergeOutcome, ForgeError> {
    let mut cmd = command(dir);
    // The reflog, when the repository keeps one, records who moved the branch.
    with_identity(&mut cmd, who);
    cmd.args(["update-ref", "-m", reflog_message]).arg(format!("refs/heads/{branch}")).args([new, old]);
    let output = run(&mut cmd)?;
    if output.status.success() {
        return Ok(MergeOutcome::Merged { commit: new.to_owned(), fast_forward });
    }
    match read_branch(dir, branch)? {
        Some(current) if current == old => Err(output.failure("update-ref")),
        _ => Ok(MergeOutcome::BaseMoved),
    }
}

/// Sets the author and committer of commits (and reflog entries) that `cmd` writes, so that
/// neither the user's git configuration nor the host name ends up in them.
fn with_identity(cmd: &mut Command, who: &Signature) {
    cmd.env("GIT_AUTHOR_NAME", &who.name)
        .env("GIT_AUTHOR_EMAIL", &who.email)
        .env("GIT_COMMITTER_NAME", &who.name)
        .env("GIT_COMMITTER_EMAIL", &who.email);
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::Repositories;
    use super::output::*;
    use super::*;
    use crate::forge::{ChangeStatus, FileChange};

    use std::fs;
    use std::path::PathBuf;

    use tempfile::TempDir;

    /// Runs git in `dir` with the same cleaned environment as the forge, panicking on failure;
    /// returns stdout without the trailing newline.
    pub(crate) fn git_ok(dir: &Path, args: &[&str]) -> String {
        let output = command(dir).args(args).output().expect("run git");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8 output").trim_end_matches('\n').to_owned()
    }

    /// Creates a non-bare repository with branch `main` and a local identity.
    pub(crate) fn init_repo(dir: &Path) {
        fs::create_dir_all(dir).expect("mkdir");
        git_ok(dir, &["init", "-q", "-b", "main"]);
        git_ok(dir, &["config", "user.name", "Test Author"]);
        git_ok(dir, &["config", "user.email", "test@example.com"]);
        git_ok(dir, &["config", "commit.gpgSign", "false"]);
    }

    /// A repositories directory with one non-bare repository, `work`, whose `main` has one
    /// commit.
    struct Fixture {
        _dir: TempDir,
        repositories: Repositories,
        work: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = TempDir::new().expect("temp dir");
            let work = dir.path().join("work");
            init_repo(&work);
            let fixture = Fixture { repositories: Repositories::new(dir.path()), _dir: dir, work };
            fixture.write("README.md", "hello\n");
            fixture.commit("initial");
            fixture
        }

        fn repo(&self) -> Repository {
            self.repositories.open("work").expect("open work")
        }

        fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
            let path = self.work.join(path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("mkdir");
            }
            fs::write(path, contents).expect("write file");
        }

        fn git(&self, args: &[&str]) -> String {
            git_ok(&self.work, args)
        }

        fn commit(&self, message: &str) -> String {
            self.git(&["add", "-A"]);
            self.git(&["commit", "-q", "-m", message]);
            self.git(&["rev-parse", "HEAD"])
        }

        fn commit_file(&self, path: &str, contents: &str) -> String {
            self.write(path, contents);
            self.commit(&format!("add {path}"))
        }

        fn checkout(&self, branch: &str) {
            self.git(&["checkout", "-q", branch]);
        }

        fn branch(&self, name: &str) {
            self.git(&["checkout", "-q", "-b", name]);
        }
    }

    fn author() -> Signature {
        Signature { name: "Merge Bot".into(), email: "merge-bot@example.com".into() }
    }

    fn rev(dir: &Path, revision: &str) -> String {
        git_ok(dir, &["rev-parse", "--verify", revision])
    }

    fn parents(dir: &Path, commit: &str) -> Vec<String> {
        git_ok(dir, &["show", "-s", "--format=%P", commit]).split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn diff_lists_every_kind_of_change_since_the_merge_base() {
        let fx = Fixture::new();
        fx.write("modify.txt", "one\ntwo\nthree\n");
        fx.write("delete.txt", "gone 1\ngone 2\n");
        let moved: String = (1..=20).map(|n| format!("line {n} of a file that moves\n")).collect();
        fx.write("old/name.txt", &moved);
        let base_point = fx.commit("files");

        fx.branch("feature/login-fix");
        fx.write("added.txt", "new 1\nnew 2\n");
        fx.write("modify.txt", "one\nTWO\nthree\nfour\n");
        fs::remove_file(fx.work.join("delete.txt")).expect("delete");
        fs::remove_dir_all(fx.work.join("old")).expect("remove old");
        fx.write("new/name.txt", &moved);
        fx.write("image.bin", [0u8, 159, 146, 150, 0, 1, 2, 3]);
        let head_sha = fx.commit("feature");

        // base moves on after the branch point; the diff must not show this change.
        fx.checkout("main");
        fx.write("README.md", "hello, changed on main\n");
        let base_sha = fx.commit("main moves");

        let diff = GitCli.diff(&fx.repo(), "main", "feature/login-fix").expect("diff");
        assert_eq!(diff.base_sha, base_sha);
        assert_eq!(diff.head_sha, head_sha);
        assert_eq!(diff.merge_base_sha, base_point);

        let change = |path: &str, old_path: Option<&str>, status, insertions, deletions, binary| FileChange {
            path: path.into(),
            old_path: old_path.map(Into::into),
            status,
            insertions,
            deletions,
            binary,
        };
        assert_eq!(
            diff.files,
            vec![
                change("added.txt", None, ChangeStatus::Added, 2, 0, false),
                change("delete.txt", None, ChangeStatus::Deleted, 0, 2, false),
                change("image.bin", None, ChangeStatus::Added, 0, 0, true),
                change("modify.txt", None, ChangeStatus::Modified, 2, 1, false),
                change("new/name.txt", Some("old/name.txt"), ChangeStatus::Renamed, 0, 0, false),
            ]
        );
        assert_eq!((diff.insertions, diff.deletions), (4, 3));

        assert!(!diff.patch_truncated);
        for expected in [
            "diff --git a/added.txt b/added.txt\n",
            "+new 2\n",
            "-gone 1\n",
            "-two\n+TWO\n three\n+four\n",
            "rename from old/name.txt\nrename to new/name.txt\n",
            "Binary files /dev/null and b/image.bin differ\n",
        ] {
            assert!(diff.patch.contains(expected), "patch lacks {expected:?}:\n{}", diff.patch);
        }
        assert!(!diff.patch.contains("changed on main"), "patch shows base's own change");
    }

    #[test]
    fn diff_of_identical_branches_is_empty() {
        let fx = Fixture::new();
        fx.git(&["branch", "same"]);
        let diff = GitCli.diff(&fx.repo(), "main", "same").expect("diff");
        assert_eq!(diff.files, vec![]);
        assert_eq!((diff.insertions, diff.deletions), (0, 0));
        assert_eq!(diff.patch, "");
        assert_eq!(diff.merge_base_sha, diff.head_sha);
    }

    #[test]
    fn diff_handles_unusual_paths() {
        let fx = Fixture::new();
        fx.branch("feature");
        fx.write("with space.txt", "a\n");
        fx.write("tab\there.txt", "b\n");
        fx.write("caf\u{e9}.txt", "c\n");
        fx.commit("odd names");
        let diff = GitCli.diff(&fx.repo(), "main", "feature").expect("diff");
        let paths: Vec<&str> = diff.files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["caf\u{e9}.txt", "tab\there.txt", "with space.txt"]);
        assert!(diff.files.iter().all(|file| file.status == ChangeStatus::Added && file.insertions == 1));
    }

    #[test]
    fn long_patches_are_cut_at_a_line_boundary() {
        let fx = Fixture::new();
        fx.branch("big");
        let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
        let lines = MAX_PATCH_BYTES / line.len() + 100;
        fx.write("big.txt", line.repeat(lines));
        fx.commit("big file");

        let diff = GitCli.diff(&fx.repo(), "main", "big").expect("diff");
        assert!(diff.patch_truncated);
        assert!(diff.patch.len() <= MAX_PATCH_BYTES);
        assert!(diff.patch.len() > MAX_PATCH_BYTES - line.len() - 1, "cut too early: {}", diff.patch.len());
        assert!(diff.patch.ends_with(&format!("+{line}")));
        // The counts come from the full diff, not the truncated patch.
        assert_eq!(diff.files[0].insertions, lines as u64);
        assert_eq!(diff.insertions, lines as u64);
    }

    #[test]
    fn truncate_patch_keeps_whole_lines_within_the_limit() {
        assert_eq!(truncate_patch(b"ab\ncd\n", 6), ("ab\ncd\n".to_owned(), false));
        assert_eq!(truncate_patch(b"ab\ncd\nef\n", 7), ("ab\ncd\n".to_owned(), true));
        assert_eq!(truncate_patch(b"ab\ncd\nef\n", 5), ("ab\n".to_owned(), true));
        assert_eq!(truncate_patch(b"abcdef\n", 3), (String::new(), true));
        // Each invalid byte becomes a three-byte U+FFFD; the limit still holds for the text.
        let (text, cut) = truncate_patch(b"a\n\xff\xff\n", 6);
        assert_eq!((text.as_str(), cut), ("a\n", true));
        let (text, cut) = truncate_patch(b"\xff\n", 6);
        assert_eq!((text.as_str(), cut), ("\u{fffd}\n", false));
    }

    #[test]
    fn fast_forward_moves_base_to_head() {
        let fx = Fixture::new();
        fx.branch("feature");
        fx.write("feature.txt", "feature\n");
        let head_sha = fx.commit("feature work");
        fx.checkout("main");

        // Through a trait object, as the service holds its forge.
        let forge: Box<dyn Forge> = Box::new(GitCli::new());
        let outcome = forge.merge(&fx.repo(), "main", "feature", "unused", &author()).expect("merge");
        assert_eq!(outcome, MergeOutcome::Merged { commit: head_sha.clone(), fast_forward: true });
        assert_eq!(rev(&fx.work, "refs/heads/main"), head_sha);
        assert_eq!(
            GitCli.merge(&fx.repo(), "main", "feature", "unused", &author()).expect("merge again"),
            MergeOutcome::AlreadyMerged
        );
    }

    #[test]
    fn true_merge_on_a_bare_repository_records_both_sides() {
        let root = TempDir::new().expect("temp dir");
        let clone = TempDir::new().expect("temp dir");
        let bare = root.path().join("team/app.git");
        fs::create_dir_all(&bare).expect("mkdir");
        git_ok(&bare, &["init", "-q", "--bare", "-b", "main"]);

        let work = clone.path();
        init_repo(work);
        let write = |path: &str, contents: &str| fs::write(work.join(path), contents).expect("write");
        let commit = |message: &str| {
            git_ok(work, &["add", "-A"]);
            git_ok(work, &["commit", "-q", "-m", message]);
        };
        write("shared.txt", "shared\n");
        commit("initial");
        git_ok(work, &["checkout", "-q", "-b", "feature"]);
        write("from-feature.txt", "feature side\n");
        commit("feature side");
        git_ok(work, &["checkout", "-q", "main"]);
        write("from-main.txt", "main side\n");
        commit("main side");
        let bare_url = bare.to_str().expect("utf-8 temp path");
        git_ok(work, &["push", "-q", bare_url, "main", "feature"]);

        let repo = Repositories::new(root.path()).open("team/app.git").expect("open bare");
        let base_sha = rev(&bare, "refs/heads/main");
        let head_sha = rev(&bare, "refs/heads/feature");
        let message = "Merge feature into main\n\nReviewed in the share view.";

        let outcome = GitCli.merge(&repo, "main", "feature", message, &author()).expect("merge");
        let MergeOutcome::Merged { commit, fast_forward: false } = outcome else {
            panic!("expected a merge commit, got {outcome:?}");
        };
        assert_eq!(rev(&bare, "refs/heads/main"), commit);
        assert_eq!(parents(&bare, &commit), [base_sha, head_sha]);
        assert_eq!(git_ok(&bare, &["show", &format!("{commit}:from-main.txt")]), "main side");
        assert_eq!(git_ok(&bare, &["show", &format!("{commit}:from-feature.txt")]), "feature side");
        assert_eq!(git_ok(&bare, &["show", &format!("{commit}:shared.txt")]), "shared");
        assert_eq!(
            git_ok(&bare, &["show", "-s", "--format=%an <%ae>|%cn <%ce>", &commit]),
            "Merge Bot <merge-bot@example.com>|Merge Bot <merge-bot@example.com>"
        );
        assert_eq!(git_ok(&bare, &["show", "-s", "--format=%B", &commit]), message);

        assert_eq!(
            GitCli.merge(&repo, "main", "feature", message, &author()).expect("merge again"),
            MergeOutcome::AlreadyMerged
        );
        let diff = GitCli.diff(&repo, "main", "feature").expect("diff after merge");
        assert_eq!(diff.files, vec![]);
    }

    #[test]
    fn conflicting_merge_reports_paths_and_changes_nothing() {
        let fx = Fixture::new();
        fx.write("a file.txt", "line\n");
        fx.write("z.txt", "z\n");
        fx.commit("files");
        fx.branch("feature");
        fx.write("a file.txt", "feature\n");
        fx.write("z.txt", "feature z\n");
        fx.write("clean.txt", "no conflict here\n");
        fx.commit("feature edits");
        fx.checkout("main");
        fx.write("a file.txt", "main\n");
        fx.write("z.txt", "main z\n");
        let base_sha = fx.commit("main edits");

        let outcome = GitCli.merge(&fx.repo(), "main", "feature", "merge", &author()).expect("merge");
        assert_eq!(outcome, MergeOutcome::Conflict { paths: vec!["a file.txt".into(), "z.txt".into()] });
        assert_eq!(rev(&fx.work, "refs/heads/main"), base_sha);
        assert_eq!(fx.git(&["status", "--porcelain"]), "");
    }

    #[test]
    fn missing_branches_are_reported() {
        let fx = Fixture::new();
        let repo = fx.repo();
        assert_eq!(GitCli.branch_head(&repo, "nope").expect("branch_head"), None);
        assert_eq!(GitCli.branch_head(&repo, "main").expect("branch_head"), Some(rev(&fx.work, "HEAD")));
        assert!(matches!(
            GitCli.diff(&repo, "main", "nope"),
            Err(ForgeError::BranchNotFound(name)) if name == "nope"
        ));
        assert!(matches!(
            GitCli.diff(&repo, "nope", "main"),
            Err(ForgeError::BranchNotFound(name)) if name == "nope"
        ));
        assert!(matches!(
            GitCli.merge(&repo, "main", "nope", "m", &author()),
            Err(ForgeError::BranchNotFound(name)) if name == "nope"
        ));
    }

    #[test]
    fn branch_lookup_is_exact() {
        let fx = Fixture::new();
        // A ref that `rev-parse refs/heads/x` would fall back to when branch x is missing.
        let head = rev(&fx.work, "HEAD");
        fx.git(&["update-ref", "refs/heads/refs/heads/x", &head]);
        fx.git(&["branch", "xy"]);
        assert_eq!(GitCli.branch_head(&fx.repo(), "x").expect("branch_head"), None);
        assert_eq!(GitCli.branch_head(&fx.repo(), "refs/heads/x").expect("branch_head"), Some(head));
    }

    #[test]
    fn invalid_branch_names_never_reach_git() {
        let fx = Fixture::new();
        let repo = fx.repo();
        assert!(matches!(GitCli.branch_head(&repo, "--all"), Err(ForgeError::InvalidBranch(_))));
        assert!(matches!(GitCli.diff(&repo, "main", "a..b"), Err(ForgeError::InvalidBranch(_))));
        assert!(matches!(
            GitCli.merge(&repo, "-x", "main", "m", &author()),
            Err(ForgeError::InvalidBranch(_))
        ));
    }

    #[test]
    fn merge_refuses_bad_commit_details() {
        let fx = Fixture::new();
        fx.git(&["branch", "feature"]);
        let nobody = Signature { name: String::new(), email: "x@example.com".into() };
        assert!(matches!(
            GitCli.merge(&fx.repo(), "main", "feature", "m", &nobody),
            Err(ForgeError::InvalidMergeCommit(_))
        ));
        assert!(matches!(
            GitCli.merge(&fx.repo(), "main", "feature", "nul\0here", &author()),
            Err(ForgeError::InvalidMergeCommit(_))
        ));
    }

    #[test]
    fn unrelated_histories_are_refused() {
        let fx = Fixture::new();
        fx.git(&["checkout", "-q", "--orphan", "island"]);
        fx.git(&["rm", "-q", "-r", "-f", "."]);
        fx.write("island.txt", "alone\n");
        fx.commit("unrelated root");
        fx.checkout("main");
        let base_sha = rev(&fx.work, "main");

        assert!(matches!(
            GitCli.diff(&fx.repo(), "main", "island"),
            Err(ForgeError::UnrelatedHistories { .. })
        ));
        assert!(matches!(
            GitCli.merge(&fx.repo(), "main", "island", "m", &author()),
            Err(ForgeError::UnrelatedHistories { .. })
        ));
        assert_eq!(rev(&fx.work, "main"), base_sha);
    }

    #[test]
    fn update_reports_a_moved_base_and_leaves_it_alone() {
        let fx = Fixture::new();
        let stale = rev(&fx.work, "main");
        fx.branch("feature");
        let feature = fx.commit_file("feature.txt", "f\n");
        fx.checkout("main");
        let moved = fx.commit_file("main.txt", "m\n");

        // Someone else moved main after the merge read it at `stale`.
        let outcome = update_branch(fx.repo().path(), "main", &feature, &stale, "merge", &author(), true)
            .expect("update");
        assert_eq!(outcome, MergeOutcome::BaseMoved);
        assert_eq!(rev(&fx.work, "main"), moved);
    }

    #[test]
    fn update_failures_that_are_not_races_are_errors() {
        let fx = Fixture::new();
        let current = rev(&fx.work, "main");
        fx.branch("feature");
        let feature = fx.commit_file("feature.txt", "f\n");
        // A lock file left behind by a crashed process blocks the update without moving main.
        let lock = fx.work.join(".git/refs/heads/main.lock");
        fs::write(&lock, "").expect("create lock");
        let result = update_branch(fx.repo().path(), "main", &feature, &current, "merge", &author(), true);
        fs::remove_file(&lock).expect("remove lock");
        assert!(matches!(result, Err(ForgeError::Git(_))), "got {result:?}");
        assert_eq!(rev(&fx.work, "main"), current);
    }

    #[test]
    fn merge_of_criss_cross_history_succeeds() {
        let fx = Fixture::new();
        fx.branch("feature");
        fx.commit_file("f1.txt", "1\n");
        fx.checkout("main");
        fx.commit_file("m1.txt", "1\n");
        // Merge each side into the other to create two merge bases.
        fx.git(&["merge", "-q", "--no-edit", "feature"]);
        fx.checkout("feature");
        fx.git(&["merge", "-q", "--no-edit", "main~1"]);
        fx.commit_file("f2.txt", "2\n");
        fx.checkout("main");
        fx.commit_file("m2.txt", "2\n");
        let base_sha = rev(&fx.work, "main");
        let head_sha = rev(&fx.work, "feature");

        let diff = GitCli.diff(&fx.repo(), "main", "feature").expect("diff");
        assert!(diff.files.iter().any(|file| file.path == "f2.txt"));

        let outcome = GitCli.merge(&fx.repo(), "main", "feature", "criss-cross", &author()).expect("merge");
        let MergeOutcome::Merged { commit, fast_forward: false } = outcome else {
            panic!("expected a merge commit, got {outcome:?}");
        };
        assert_eq!(parents(&fx.work, &commit), [base_sha, head_sha]);
        let files = fx.git(&["ls-tree", "--name-only", &commit]);
        assert_eq!(files.lines().collect::<Vec<_>>(), ["README.md", "f1.txt", "f2.txt", "m1.txt", "m2.txt"]);
    }

    #[test]
    fn sha256_repositories_merge() {
        let dir = TempDir::new().expect("temp dir");
        let work = dir.path().join("work");
        fs::create_dir_all(&work).expect("mkdir");
        git_ok(&work, &["init", "-q", "-b", "main", "--object-format=sha256"]);
        git_ok(&work, &["config", "user.name", "Test Author"]);
        git_ok(&work, &["config", "user.email", "test@example.com"]);
        let fx = Fixture { repositories: Repositories::new(dir.path()), _dir: dir, work };
        fx.commit_file("README.md", "hello\n");
        fx.branch("feature");
        let head_sha = fx.commit_file("feature.txt", "f\n");
        fx.checkout("main");
        let base_sha = fx.commit_file("main.txt", "m\n");
        assert_eq!(head_sha.len(), 64);

        let diff = GitCli.diff(&fx.repo(), "main", "feature").expect("diff");
        assert_eq!(diff.head_sha, head_sha);
        let outcome = GitCli.merge(&fx.repo(), "main", "feature", "merge", &author()).expect("merge");
        let MergeOutcome::Merged { commit, fast_forward: false } = outcome else {
            panic!("expected a merge commit, got {outcome:?}");
        };
        assert_eq!(parents(&fx.work, &commit), [base_sha, head_sha]);
    }

    #[test]
    fn parsers_read_git_z_output() {
        let statuses = parse_name_status(b"M\0a\0R087\0old\0new\0D\0gone\0").expect("name-status");
        assert_eq!(
            statuses,
            [
                StatusEntry { status: ChangeStatus::Modified, old_path: None, path: "a".into() },
                StatusEntry {
                    status: ChangeStatus::Renamed,
                    old_path: Some("old".into()),
                    path: "new".into()
                },
                StatusEntry { status: ChangeStatus::Deleted, old_path: None, path: "gone".into() },
            ]
        );
        let numstat: &[&[u8]] = &[b"1\t2\ta\0", b"-\t-\tbin\0", b"3\t0\t\0old\0new\0"];
        let counts = parse_numstat(&numstat.concat()).expect("numstat");
        assert_eq!(
            counts,
            [
                CountEntry { lines: Some((1, 2)), path: "a".into() },
                CountEntry { lines: None, path: "bin".into() },
                CountEntry { lines: Some((3, 0)), path: "new".into() },
            ]
        );
        assert_eq!(parse_numstat(b"").expect("empty"), []);
        assert!(parse_name_status(b"X\0a\0").is_err());
        assert!(parse_name_status(b"R100\0only-one\0").is_err());
        assert!(parse_numstat(b"x\t1\ta\0").is_err());
    }
}
