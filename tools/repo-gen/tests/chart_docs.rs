//! The chart README's values table is what values.yaml's comments give.

use std::path::{Path, PathBuf};

use repo_gen::values_docs;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_committed_values_table_is_current() {
    let root = root();
    let generated = values_docs::generate(&root).expect("every value is documented");
    let committed = std::fs::read_to_string(root.join(values_docs::CHART).join("README.md"))
        .expect("chart README");
    assert!(
        generated == committed,
        "the values table of {}/README.md is stale: run `make chart-docs`",
        values_docs::CHART
    );
    // Every documented key of values.yaml has its row.
    let values = std::fs::read_to_string(root.join(values_docs::CHART).join("values.yaml"))
        .expect("values.yaml");
    let rows = values_docs::rows(&values).expect("documented");
    assert!(rows.len() > 60, "{} rows", rows.len());
    for row in rows {
        assert!(committed.contains(&format!("| `{}` | {} |", row.key, row.kind)));
    }
}
