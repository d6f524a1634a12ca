//! The messages between the daemon and a plugin's own process (`smo plugin host FILE`): JSON,
//! each preceded by its length (4 bytes, little-endian), over the child's stdin and stdout.

use crate::loader::PluginInfo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The largest message either side accepts (a request for thousands of services fits).
pub const MAX_FRAME: usize = 256 << 20;

/// What the child says once, after loading the plugin (or failing to).
#[derive(Debug, Serialize, Deserialize)]
pub enum Hello {
    /// Loaded: the plugin's metadata and how the process is confined.
    Ready { info: PluginInfo, sandbox: String },
    /// Not loaded, and why.
    Failed { error: String },
}

/// A strategy call, from the daemon.
#[derive(Debug, Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    /// "placement", "scaling" or "migration".
    pub kind: String,
    pub strategy: String,
    pub params: String,
    /// The request, as JSON text.
    pub request: String,
}

/// The answer to call `id`: the decision as JSON text, or the plugin's error.
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub id: u64,
    pub result: Result<String, (u32, String)>,
}

/// Writes one message.
pub fn write_frame<T: Serialize>(out: &mut impl Write, message: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let length = u32::try_from(body.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other(format!("message of {} bytes", body.len())))?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// Reads one message; `Ok(None)` at the end of the stream.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a message of {length} bytes (at most {MAX_FRAME})"
        )));
    }
    let mut body = vec![0u8; length];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_the_end_is_none() {
        let mut buffer = Vec::new();
        let call = Call {
            id: 7,
            kind: "placement".into(),
            strategy: "s".into(),
            params: "{}".into(),
            request: "{\"graph\":1}".into(),
        };
        write_frame(&mut buffer, &call).expect("write");
        let mut reader = buffer.as_slice();
        let read: Call = read_frame(&mut reader).expect("read").expect("a frame");
        assert_eq!((read.id, read.request.as_str()), (7, "{\"graph\":1}"));
        assert!(read_frame::<Call>(&mut reader).expect("end").is_none());
        let oversized = (u32::MAX).to_le_bytes();
        assert!(read_frame::<Call>(&mut oversized.as_slice()).is_err());
    }
}
