//! Wire formats: WebSocket frames, the HTTP upgrade, and the stamp inside each test message.
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod jsonptr;
pub mod payload;
