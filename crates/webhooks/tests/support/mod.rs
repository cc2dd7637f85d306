//! What the tests share: a hand-written HTTP receiver on 127.0.0.1 and endpoints pointing at it.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wxlogin_webhooks::{Endpoint, parse_endpoints};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SECRET_BODY: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const BODY: &str = r#"{"type":"user.created","data":{"user_id":"u_1"}}"#;

/// How a test receiver behaves once it has read a request.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers with this status line and an empty body.
    Answer(&'static str),
    /// Reads the request and never answers.
    Silent,
    /// Answers 200 with a chunked body that never ends.
    StreamForever,
}

pub struct Request {
    pub head: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A hand-written HTTP/1.1 server on 127.0.0.1, stopped when dropped.
pub struct Receiver {
    pub port: u16,
    pub requests: mpsc::UnboundedReceiver<Request>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, requests) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // Connections are held in this task's scope so a silent one stays open.
            let mut open = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                let _ = seen.send(request);
                match behaviour {
                    Behaviour::Answer(status) => {
                        let answer = format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nlocation: http://127.0.0.1:1/elsewhere\r\nconnection: close\r\n\r\n"
                        );
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                    Behaviour::Silent => open.push(stream),
                    Behaviour::StreamForever => {
                        tokio::spawn(async move {
                            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                            if stream.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            while stream.write_all(b"4\r\nmore\r\n").await.is_ok() {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        });
                    }
                }
            }
        });
        Self {
            port,
            requests,
            task,
        }
    }

    pub fn endpoint(&self, path_and_query: &str) -> Endpoint {
        endpoint(&format!("http://127.0.0.1:{}{path_and_query}", self.port))
    }

    pub async fn only_request(&mut self) -> Request {
        let request = self.requests.recv().await.unwrap();
        assert!(self.requests.try_recv().is_err(), "more than one request");
        request
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut TcpStream) -> Request {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(
            read > 0,
            "connection closed before the request's head ended"
        );
        bytes.extend_from_slice(&chunk[..read]);
    };
    let head_text = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let head: Vec<(String, String)> = head_text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = head
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(
            read > 0,
            "connection closed before the request's body ended"
        );
        body.extend_from_slice(&chunk[..read]);
    }
    let mut head = head;
    head.insert(
        0,
        (
            "request-line".to_owned(),
            head_text.lines().next().unwrap_or_default().to_owned(),
        ),
    );
    Request {
        head,
        body: String::from_utf8(body).unwrap(),
    }
}

pub fn endpoint(url: &str) -> Endpoint {
    let text = format!(
        "[[webhook]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nevents = [\"user.created\"]\n"
    );
    parse_endpoints(&text).unwrap().remove(0)
}
