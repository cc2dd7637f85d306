//! An avatar upload as `wx.uploadFile` sends it (`multipart/form-data`, the image in the part
//! named `file`), and a keep-alive connection that posts it: for filling the media store and for
//! the burst of uploads at one instant, where wrk's closed loop would not start them together.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// The boundary between the parts (checked not to occur in the file).
const BOUNDARY: &str = "wxlogin-bench-5f0c7e2d9b1a4863";

/// A `multipart/form-data` body holding one image in the part `file`.
pub struct UploadBody {
    pub bytes: Vec<u8>,
}

impl UploadBody {
    pub fn jpeg(image: &[u8]) -> anyhow::Result<Self> {
        if image
            .windows(BOUNDARY.len())
            .any(|w| w == BOUNDARY.as_bytes())
        {
            bail!("the image holds the multipart boundary");
        }
        let mut bytes = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"avatar.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(image);
        bytes.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        Ok(Self { bytes })
    }

    /// The request's `Content-Type`.
    pub fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    /// The boundary alone (what the Lua script is given).
    pub fn boundary() -> &'static str {
        BOUNDARY
    }
}

/// One keep-alive HTTP/1.1 connection posting uploads.
pub struct Uploader {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Uploader {
    pub fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        // Past the server's 10 s wait for a turn: its 503 comes back, not our timeout.
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            reader: BufReader::new(stream),
        })
    }

    /// `POST /api/me/avatar` with `token`; the status and body of the answer.
    pub fn upload(&mut self, token: &str, body: &UploadBody) -> anyhow::Result<(u16, String)> {
        let head = format!(
            "POST /api/me/avatar HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            UploadBody::content_type(),
            body.bytes.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body.bytes)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no HTTP status in {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = Some(value.trim().parse::<usize>()?);
            }
        }
        let mut answer = vec![0; length.context("an answer without Content-Length")?];
        self.reader.read_exact(&mut answer)?;
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

/// The file name an upload's answer gives its avatar (`avatarUrl`'s last segment).
pub fn avatar_name(answer: &str) -> anyhow::Result<String> {
    let user: serde_json::Value = serde_json::from_str(answer)?;
    let url = user["avatarUrl"]
        .as_str()
        .with_context(|| format!("no avatarUrl in the upload's answer: {answer}"))?;
    url.rsplit_once("/media/avatars/")
        .map(|(_, name)| name.to_owned())
        .with_context(|| format!("avatarUrl {url} is not under /media/avatars/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_frames_the_image_in_the_part_file() {
        let body = UploadBody::jpeg(&[0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9]).expect("framed");
        let text = String::from_utf8_lossy(&body.bytes);
        assert!(text.starts_with(&format!("--{BOUNDARY}\r\n")));
        assert!(text.contains("name=\"file\""));
        assert!(text.ends_with(&format!("\r\n--{BOUNDARY}--\r\n")));
        assert!(UploadBody::jpeg(BOUNDARY.as_bytes()).is_err());
    }

    #[test]
    fn the_avatar_name_is_read_from_the_answer() {
        let answer = r#"{"id":"u","avatarUrl":"http://127.0.0.1:1/media/avatars/ab12.jpg"}"#;
        assert_eq!(avatar_name(answer).expect("named"), "ab12.jpg");
        assert!(avatar_name(r#"{"avatarUrl":null}"#).is_err());
    }
}
