//! `[proxy]` and its `[[proxy.toxics]]`: the network faults `wsload run` injects through its
//! own proxy. Each toxic's values are read by the same code as `wsload proxy --toxic`
//! (`proxy::spec::Builder`), so both accept the same words; errors point at the value.

use std::time::Duration;

use super::super::model::ProxyConfig;
use super::error::{error, Res};
use super::read::*;
use super::tree::{Node, Val};
use crate::engine::proxy::spec::{Builder, Kind};

pub(super) fn read_proxy(n: &Node, traffic_end: Duration) -> Res<ProxyConfig> {
    let t = Tab::new(n, "proxy", "a table such as [proxy] with [[proxy.toxics]]")?;
    t.known(&["cpu", "toxics"])?;
    let cpu = t.opt("cpu", |n, f| get_int(n, f, 0, 4095))?.map(|c| c as usize);
    let list = t.req(
        "toxics",
        "add at least one [[proxy.toxics]] table, e.g. kind = \"latency\", delay = \"50ms\"",
    )?;
    let items = get_list(list, "proxy.toxics", "a list of tables ([[proxy.toxics]])")?;
    if items.is_empty() {
        return Err(error(
            &list.loc,
            "proxy.toxics",
            "the list is empty; add at least one [[proxy.toxics]] table, or remove [proxy]",
        ));
    }
    if items.len() > crate::engine::proxy::args::MAX_TOXICS {
        return Err(error(
            &list.loc,
            "proxy.toxics",
            format!(
                "{} toxics: at most {}",
                items.len(),
                crate::engine::proxy::args::MAX_TOXICS
            ),
        ));
    }
    let kinds: Vec<(&str, &str)> = Kind::NAMES.iter().map(|k| (*k, *k)).collect();
    let mut toxics = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let t = Tab::new(item, &format!("proxy.toxics[{i}]"), "a table ([[proxy.toxics]])")?;
        let kind = t.choice("kind", "toxic kind", &kinds, None)?;
        let mut b = Builder::new(kind).map_err(|m| error(t.loc, &t.field("kind"), m))?;
        let mut keys = b.keys();
        keys.push("kind");
        t.known(&keys)?;
        for e in t.entries.iter().filter(|e| e.key != "kind") {
            let f = t.field(&e.key);
            let text = match &e.node.val {
                Val::Str(s) => s.clone(),
                Val::Int(_) | Val::Float(_) => e.node.raw.clone(),
                _ => return Err(expected(&e.node, &f, "a number or a string such as \"50ms\"")),
            };
            b.set(&e.key, &text).map_err(|m| error(&e.node.loc, &f, m))?;
        }
        let toxic = b.finish().map_err(|(key, m)| match key.and_then(|k| t.entry(k)) {
            Some(e) => error(&e.node.loc, &t.field(&e.key), m),
            None => error(t.loc, &key.map_or_else(|| t.field("kind"), |k| t.field(k)), m),
        })?;
        if let (Some(at), Some(n)) = (toxic.at, t.get("at")) {
            starts_in_traffic(n, &t.field("at"), at, traffic_end, "toxics")?;
        }
        toxics.push(toxic);
    }
    Ok(ProxyConfig { cpu, toxics })
}
