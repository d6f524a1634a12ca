//! The API server's limits against misbehaving clients: a connection that never finishes its
//! headers is closed, a body that never arrives gets 408, and connections past the cap are
//! closed at once while those within it are served.

use smo_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(daemon: &Daemon) -> TcpStream {
    let stream = TcpStream::connect(&daemon.addr).expect("connect");
    // A bound on the test itself, should the server never answer.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    stream
}

/// Everything the server sends until it closes the connection.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        // Closed with our request unread: a reset, still a close.
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
            String::from_utf8_lossy(&answer).into_owned()
        }
        Err(error) => panic!("the server kept the connection open: {error}"),
    }
}

#[test]
fn slow_headers_are_cut_off_and_a_missing_body_gets_408() {
    let sandbox = Sandbox::new();
    let config = sandbox.config("[http]\nheader_read_timeout_ms = 300\nrequest_timeout_ms = 500\n");
    let daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);

    // Headers that never end (slowloris): the connection is closed.
    let mut slow = connect(&daemon);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("write");
    let answer = read_to_close(&mut slow);
    assert!(!answer.contains("200 OK"), "{answer}");

    // An idle kept-alive connection is closed too.
    let mut idle = connect(&daemon);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let answer = read_to_close(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body announced and never sent: 408 naming the setting.
    let mut stalled = connect(&daemon);
    stalled
        .write_all(
            b"POST /v1/graphs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/yaml\r\n\
              Content-Length: 1000\r\n\r\nhdaGraph:\n",
        )
        .expect("write");
    let mut answer = vec![0u8; 4096];
    let read = stalled.read(&mut answer).expect("an answer");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("http.request_timeout_ms"), "{answer}");
}

#[test]
fn connections_past_the_cap_are_closed_and_served_again_once_one_ends() {
    let sandbox = Sandbox::new();
    let config = sandbox.config("[http]\nmax_connections = 2\nheader_read_timeout_ms = 60000\n");
    let daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);
    let first = connect(&daemon);
    let second = connect(&daemon);
    // Make sure both were accepted: each answers a request (and stays open, kept alive).
    for mut stream in [&first, &second] {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("write");
        let mut answer = vec![0u8; 4096];
        let read = stream.read(&mut answer).expect("answer");
        assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    }
    let mut third = connect(&daemon);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok();
    let answer = read_to_close(&mut third);
    assert!(
        answer.is_empty(),
        "past the cap: closed without an answer, got {answer}"
    );
    drop(first);
    // Until the server has seen `first` close, a new connection is still refused: poll.
    assert!(eventually(Duration::from_secs(20), || {
        http()
            .get(&daemon.url("/healthz"))
            .call()
            .is_ok_and(|response| response.status() == 200)
    }));
    drop(second);
}
