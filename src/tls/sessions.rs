//! The client's session store, one per core. rustls's in-memory store keeps 8 TLS 1.3
//! tickets per server; a load generator opens hundreds of connections at once to one
//! server, so after the first handshakes a burst of new attempts finds 8 tickets for
//! hundreds of ClientHellos and most pay a full handshake. Measured against
//! `wsload serve`, 1,000 connections at `connect_concurrency` 256 resumed 8% with
//! rustls's store. This one keeps up to [`MAX_TICKETS`]. Its lock is only ever taken
//! by the core that owns it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::NamedGroup;
use rustls_pki_types::ServerName;

/// TLS 1.3 tickets kept per server name (each is used once; a few hundred bytes each).
pub const MAX_TICKETS: usize = 4096;

#[derive(Default)]
struct Entry {
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    /// Oldest first.
    tls13: VecDeque<Tls13ClientSessionValue>,
}

#[derive(Default)]
pub struct Sessions {
    servers: Mutex<HashMap<ServerName<'static>, Entry>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .servers
            .lock()
            .map_or(0, |s| s.values().map(|e| e.tls13.len()).sum::<usize>());
        write!(f, "Sessions {{ tls13 tickets: {n} }}")
    }
}

impl Sessions {
    fn edit<T>(&self, name: &ServerName<'_>, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        f(servers.entry(name.to_owned()).or_default())
    }
}

impl ClientSessionStore for Sessions {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.edit(&name, |e| e.kx_hint = Some(group));
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.edit(name, |e| e.kx_hint)
    }

    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.edit(&name, |e| e.tls12 = Some(value));
    }

    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.edit(name, |e| e.tls12.clone())
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.edit(name, |e| e.tls12 = None);
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.edit(&name, |e| {
            if e.tls13.len() == MAX_TICKETS {
                e.tls13.pop_front();
            }
            e.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        // The newest: the least likely to have expired.
        self.edit(name, |e| e.tls13.pop_back())
    }
}
