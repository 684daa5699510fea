//! What a client and the watcher say to each other over `.dvx/fsmonitor.sock`: one JSON
//! request line, one JSON answer line, then the connection closes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Error;

/// The socket's file name in the work tree's `.dvx/`.
pub const SOCKET: &str = "fsmonitor.sock";

/// Where the socket of the watcher of the work tree whose local state is `dvx_dir` lives.
pub fn socket_path(dvx_dir: &Path) -> PathBuf {
    dvx_dir.join(SOCKET)
}

/// A request to the watcher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// What changed below `roots` since `since`; roots not watched yet are watched from
    /// now on (and answered with a full scan).
    Changes {
        since: Option<String>,
        roots: Vec<String>,
    },
    /// How the watcher is doing.
    Status,
    /// Exit.
    Stop,
}

/// The answer to [`Request::Changes`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Changes {
    /// The token for this answer's "now".
    pub token: String,
    /// Why everything must be scanned, when the watcher cannot tell.
    pub full: Option<String>,
    /// Otherwise the paths (files or directories) that may have changed.
    pub paths: Vec<String>,
    /// Why the watcher cannot watch what it was asked to (the inotify watch limit): a
    /// full scan until it is fixed, worth telling the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The answer to [`Request::Status`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WatcherStatus {
    pub pid: u32,
    pub work_tree: String,
    pub roots: Vec<String>,
    pub watched_dirs: usize,
    pub token: String,
    pub idle_timeout_secs: u64,
    /// Why it cannot watch everything asked for (the inotify watch limit), if so.
    pub problem: Option<String>,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Response {
    Changes(Changes),
    Status(WatcherStatus),
    Stopping,
    Error { message: String },
}

/// Send one request to the watcher of `dvx_dir` and read its answer. A watcher that is
/// not running is [`Error::NotRunning`].
pub fn request(dvx_dir: &Path, req: &Request, timeout: Duration) -> Result<Response, Error> {
    let path = socket_path(dvx_dir);
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(Error::NotRunning);
        }
        Err(source) => return Err(Error::Socket { path, source }),
    };
    let io = |source| Error::Socket {
        path: path.clone(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    write_line(&mut stream, req).map_err(io)?;
    match read_line(&mut BufReader::new(stream)) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Error::Protocol("the watcher closed the connection".into())),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::Protocol(e.to_string())),
        Err(e) => Err(io(e)),
    }
}

/// Write `value` as one JSON line.
pub fn write_line<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Read one JSON line; `None` at the end of the stream. Lines are capped at 64 MiB.
pub fn read_line<T: for<'de> Deserialize<'de>, R: BufRead>(input: &mut R) -> io::Result<Option<T>> {
    let mut line = Vec::new();
    let n = input.by_ref().take(64 << 20).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_one_json_line_each() {
        let req = Request::Changes {
            since: Some("00000000000000ab:3".into()),
            roots: vec!["data".into()],
        };
        let mut buf = Vec::new();
        write_line(&mut buf, &req).expect("write");
        assert_eq!(
            String::from_utf8(buf.clone()).expect("utf-8"),
            "{\"op\":\"changes\",\"since\":\"00000000000000ab:3\",\"roots\":[\"data\"]}\n"
        );
        let back: Request = read_line(&mut &buf[..]).expect("read").expect("a line");
        assert_eq!(back, req);
        let answer = Response::Changes(Changes {
            token: "00000000000000ab:4".into(),
            full: None,
            paths: vec!["data/a".into()],
            problem: None,
        });
        let mut buf = Vec::new();
        write_line(&mut buf, &answer).expect("write");
        let back: Response = read_line(&mut &buf[..]).expect("read").expect("a line");
        assert_eq!(back, answer);
        assert!(
            read_line::<Response, _>(&mut &b""[..])
                .expect("eof")
                .is_none()
        );
        assert!(read_line::<Response, _>(&mut &b"{nope\n"[..]).is_err());
    }
}
