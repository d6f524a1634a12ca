//! The names of every stored graph, kept in memory for placement requests (`extra.graphs`
//! lists them all): read from the store once, then followed by the engine's creates and deletes.

use crate::store::{Store, StoreError};
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// The sorted names; `None` until first read.
#[derive(Debug, Default)]
pub struct GraphNames {
    names: Mutex<Option<BTreeSet<String>>>,
}

impl GraphNames {
    /// Every stored graph's name and `placing`, sorted, as a JSON array.
    pub fn json_with(&self, store: &Store, placing: &str) -> Result<String, StoreError> {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        let names = match &mut *names {
            Some(names) => names,
            empty => empty.insert(store.graph_names()?.into_iter().collect()),
        };
        let mut json = String::with_capacity(names.len() * 16 + placing.len() + 4);
        let mut placed = names.contains(placing);
        json.push('[');
        for name in names.iter() {
            if !placed && placing < name.as_str() {
                push_name(&mut json, placing);
                placed = true;
            }
            push_name(&mut json, name);
        }
        if !placed {
            push_name(&mut json, placing);
        }
        json.push(']');
        Ok(json)
    }

    /// Graph `name` was stored (after its commit).
    pub fn created(&self, name: &str) {
        if let Some(names) = &mut *self.names.lock().unwrap_or_else(PoisonError::into_inner) {
            names.insert(name.to_owned());
        }
    }

    /// Graph `name`'s rows were removed.
    pub fn removed(&self, name: &str) {
        if let Some(names) = &mut *self.names.lock().unwrap_or_else(PoisonError::into_inner) {
            names.remove(name);
        }
    }
}

fn push_name(json: &mut String, name: &str) {
    if json.len() > 1 {
        json.push(',');
    }
    // A name is a JSON string like any other (graph names are DNS labels, but the encoder
    // does not rely on it).
    json.push_str(&serde_json::Value::from(name).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_follow_creates_and_deletes_and_include_the_one_placed() {
        let store = Store::open_in_memory().expect("store");
        let mut spec = smo_core::graphs::brussels_demo_spec();
        for name in ["b", "d"] {
            spec.name = name.to_owned();
            store.create_graph(&spec, "running").expect("graph");
        }
        let names = GraphNames::default();
        let read = |placing: &str| -> Vec<String> {
            serde_json::from_str(&names.json_with(&store, placing).expect("names")).expect("JSON")
        };
        assert_eq!(read("a"), ["a", "b", "d"]);
        assert_eq!(read("c"), ["b", "c", "d"]);
        assert_eq!(read("e"), ["b", "d", "e"]);
        assert_eq!(read("b"), ["b", "d"]);
        spec.name = "c".to_owned();
        store.create_graph(&spec, "running").expect("graph");
        names.created("c");
        store.delete_graph("b").expect("delete");
        names.removed("b");
        assert_eq!(read("d"), ["c", "d"]);
        let fresh = GraphNames::default();
        assert_eq!(
            fresh.json_with(&store, "d").expect("names"),
            names.json_with(&store, "d").expect("names")
        );
    }
}
