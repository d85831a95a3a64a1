//! Running git: a child process with its output read to the end (or to a cap), and
//! its failure told as a [`ForgeError`].

use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;

use super::super::ForgeError;

/// What a finished git process left behind.
pub(super) struct Output {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

impl Output {
    pub(super) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }

    /// The error for a git command that exited unsuccessfully, with git's own explanation.
    pub(super) fn failure(&self, what: &str) -> ForgeError {
        let status = match self.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_owned(),
        };
        let stderr = self.stderr_text();
        if stderr.is_empty() {
            ForgeError::Git(format!("git {what} failed ({status})"))
        } else {
            ForgeError::Git(format!("git {what} failed ({status}): {stderr}"))
        }
    }
}

pub(super) fn spawn(cmd: &mut Command) -> Result<Child, ForgeError> {
    cmd.spawn().map_err(|err| ForgeError::Git(format!("could not run git: {err}")))
}

/// Runs `cmd` to completion, whatever its exit status.
pub(super) fn run(cmd: &mut Command) -> Result<Output, ForgeError> {
    let output = cmd.output().map_err(|err| ForgeError::Git(format!("could not run git: {err}")))?;
    Ok(Output { status: output.status, stdout: output.stdout, stderr: output.stderr })
}

/// Runs `cmd` and returns its stdout, failing unless it exits with status 0.
pub(super) fn run_ok(mut cmd: impl std::borrow::BorrowMut<Command>) -> Result<Vec<u8>, ForgeError> {
    let cmd = cmd.borrow_mut();
    let what = subcommand(cmd);
    let output = run(cmd)?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(output.failure(&what))
    }
}

/// Runs `cmd` with `input` on its stdin.
///
/// The input is written from another thread while this one collects the output, so neither
/// side can block the other on a full pipe.
pub(super) fn run_with_input(mut cmd: Command, input: &[u8]) -> Result<Output, ForgeError> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(&mut cmd)?;
    let stdin = child.stdin.take();
    thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            if let Some(mut stdin) = stdin {
                stdin.write_all(input)?;
            }
            // Dropping stdin closes it, which tells git the input is complete.
            Ok(())
        });
        let output =
            child.wait_with_output().map_err(|err| ForgeError::Git(format!("waiting for git: {err}")));
        let written = writer.join().unwrap_or_else(|_| Err(io::Error::other("stdin writer panicked")));
        let output = output?;
        let output = Output { status: output.status, stdout: output.stdout, stderr: output.stderr };
        // A git that exits early closes its stdin, so a failed write is only worth reporting
        // when git itself claims success.
        match written {
            Err(err) if output.status.success() => {
                Err(ForgeError::Git(format!("could not write to git: {err}")))
            }
            _ => Ok(output),
        }
    })
}

/// Runs `cmd` and returns the start of its stdout: all of it when it is at most `limit` bytes,
/// otherwise the first `limit + 1` bytes, so the caller can tell that there was more. In that
/// case git is stopped rather than read to the end, so a gigantic output costs neither memory
/// nor time.
pub(super) fn run_capped(mut cmd: Command, limit: usize) -> Result<Vec<u8>, ForgeError> {
    let what = subcommand(&cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(&mut cmd)?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ForgeError::Git(format!("git {what}: output pipes unavailable")));
    };
    thread::scope(|scope| {
        // stderr is drained concurrently so git never blocks on it while stdout is read.
        let stderr_reader = scope.spawn(move || {
            let mut buffer = Vec::new();
            let _ = stderr.read_to_end(&mut buffer);
            buffer
        });
        let mut kept = Vec::new();
        let read = (&mut stdout).take(limit as u64 + 1).read_to_end(&mut kept);
        let overflowed = kept.len() > limit;
        if overflowed || read.is_err() {
            // Everything needed has been read; stop git instead of draining the rest.
            let _ = child.kill();
        }
        drop(stdout);
        let status = child.wait().map_err(|err| ForgeError::Git(format!("waiting for git: {err}")))?;
        let stderr = stderr_reader.join().unwrap_or_default();
        if let Err(err) = read {
            return Err(ForgeError::Git(format!("reading from git {what}: {err}")));
        }
        if !overflowed && !status.success() {
            return Err(Output { status, stdout: Vec::new(), stderr }.failure(&what));
        }
        Ok(kept)
    })
}

/// The git subcommand `cmd` runs (the first argument after `-C <dir>`), for error messages.
pub(super) fn subcommand(cmd: &Command) -> String {
    cmd.get_args().nth(2).map(|arg| arg.to_string_lossy().into_owned()).unwrap_or_default()
}
