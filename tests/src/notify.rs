//! A `NOTIFY_SOCKET` a test listens on, as systemd would (it is not PID 1 on these machines):
//! every datagram `smo serve` sends, in order, and a wait for one of them.

use crate::{eventually, Sandbox};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every datagram received on the socket, in order.
pub struct Notifications {
    pub path: std::path::PathBuf,
    received: Arc<Mutex<Vec<String>>>,
}

impl Notifications {
    pub fn listen(sandbox: &Sandbox) -> Self {
        let path = sandbox.root.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 4096];
            // Ends with the test process.
            loop {
                if let Ok(n) = socket.recv(&mut buffer) {
                    let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                    sink.lock().expect("lock").push(text);
                }
            }
        });
        Self { path, received }
    }

    pub fn all(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until a datagram after the first `after` satisfies `wanted`; returns its index.
    pub fn wait_for(&self, after: usize, what: &str, wanted: impl Fn(&str) -> bool) -> usize {
        let mut found = None;
        let held = eventually(Duration::from_secs(30), || {
            found = self
                .all()
                .iter()
                .enumerate()
                .skip(after)
                .find(|(_, m)| wanted(m))
                .map(|(i, _)| i);
            found.is_some()
        });
        assert!(held, "no {what} after #{after}: {:#?}", self.all());
        found.unwrap_or_default()
    }
}

/// The `STATUS=` line of a datagram (empty without one).
pub fn status_of(message: &str) -> &str {
    message
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or("")
}
