//! How deeply a descriptor's text nests, measured in one pass before any parser sees it: flow
//! brackets outside quotes and comments, plus block levels by indentation and `- ` runs.

/// Deeper texts are refused before parsing (a real descriptor nests about 10 levels; a YAML
/// parser's cost on pathological nesting grows with the square of the depth).
pub const MAX_NESTING_DEPTH: usize = 64;

/// The deepest nesting of `text` (an upper bound on what a YAML or JSON parser would build).
pub fn nesting_depth(text: &str) -> usize {
    let mut deepest = 0;
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let mut block = 0;
        if flow == 0 {
            let indent = line.len() - body.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            block = indents.len();
        }
        // `- - - x`: each dash opens a sequence inside the previous one.
        let mut rest = body;
        while let Some(next) = rest
            .strip_prefix("- ")
            .or_else(|| rest.strip_prefix('-').filter(|r| r.is_empty()))
        {
            block += 1;
            rest = next.trim_start_matches(' ');
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut previous = ' ';
        for c in rest.chars() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '#' if previous == ' ' || previous == '\t' => break,
                    '{' | '[' => {
                        flow += 1;
                        deepest = deepest.max(block + flow);
                    }
                    '}' | ']' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
        deepest = deepest.max(block + flow);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_block_and_quoted_brackets() {
        assert_eq!(nesting_depth("a: 1\n"), 1);
        assert_eq!(nesting_depth("a:\n  b:\n    c: 1\n"), 3);
        assert_eq!(nesting_depth("a: {b: {c: [1, 2]}}\n"), 4);
        assert_eq!(nesting_depth("a: \"{{{[[[\" # {{{\n"), 1);
        assert_eq!(nesting_depth("- - - x\n"), 4);
        let deep = format!("hdaGraph: {}1{}\n", "{a: ".repeat(1000), "}".repeat(1000));
        assert_eq!(nesting_depth(&deep), 1001);
        let json = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(nesting_depth(&json), 101);
    }

    #[test]
    fn the_shipped_descriptors_are_far_below_the_limit() {
        for text in [
            include_str!("../../../../tests/fixtures/hdag/brussels-demo.yaml"),
            include_str!("../../../../tests/fixtures/hdag/hello-world.yaml"),
            include_str!("../../../../tests/fixtures/karmada/shop.yaml"),
        ] {
            let depth = nesting_depth(text);
            assert!(depth < MAX_NESTING_DEPTH / 2, "{depth}");
        }
    }
}
