//! `smo cluster list`: the daemon's `GET /v1/clusters` answer as a table, one cluster a line,
//! with the backend's view (ready or why not, allocatable and allocated CPU, memory and GPUs).

use serde_json::Value;
use std::fmt::Write;

/// The table of the clusters in `body` (the API's `{"clusters": [...]}`).
pub fn render(body: &Value) -> Result<String, String> {
    let clusters = body["clusters"].as_array().ok_or_else(|| {
        "the daemon's answer to GET /v1/clusters has no list of clusters".to_owned()
    })?;
    let mut rows = vec![[
        "NAME".to_owned(),
        "ROLE".to_owned(),
        "READY".to_owned(),
        "ALLOCATABLE (cpu/mem GiB/gpu)".to_owned(),
        "ALLOCATED".to_owned(),
        "SMO USES".to_owned(),
        "REASON".to_owned(),
    ]];
    for cluster in clusters {
        let backend = &cluster["backend"];
        rows.push([
            text(&cluster["name"]),
            text(&cluster["role"]),
            if backend["ready"] == true {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
            resources(&backend["allocatable"]),
            resources(&backend["allocated"]),
            resources(&cluster["used"]),
            text(&backend["reason"]),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| "-".to_owned(), str::to_owned)
}

/// `{cpu, memory_mib, gpu}` as `8/16.0/1`; `-` when absent.
fn resources(value: &Value) -> String {
    if !value.is_object() {
        return "-".to_owned();
    }
    let cpu = value["cpu"].as_f64().unwrap_or(0.0);
    let memory_gib = value["memory_mib"].as_f64().unwrap_or(0.0) / 1024.0;
    let gpu = value["gpu"].as_u64().unwrap_or(0);
    format!("{cpu}/{memory_gib:.1}/{gpu}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_a_cluster_with_the_backends_view() {
        let table = render(&json!({"clusters": [
            {"name": "edge-1", "role": "edge", "used": {"cpu": 1.0, "memory_mib": 512.0, "gpu": 0},
             "backend": {"ready": true, "allocatable": {"cpu": 8.0, "memory_mib": 16384.0, "gpu": 1},
                         "allocated": {"cpu": 3.0, "memory_mib": 5120.0, "gpu": 0}}},
            {"name": "cloud-a", "role": "cloud", "used": {"cpu": 0.0, "memory_mib": 0.0, "gpu": 0},
             "backend": {"ready": false, "reason": "ClusterNotReachable: cluster is not reachable"}}
        ]}))
        .unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("edge-1"), "{table}");
        assert!(
            lines[1].contains("yes") && lines[1].contains("8/16.0/1"),
            "{table}"
        );
        assert!(lines[2].contains("no") && lines[2].ends_with("cluster is not reachable"));
        assert!(render(&json!({"error": "x"})).is_err());
    }
}
