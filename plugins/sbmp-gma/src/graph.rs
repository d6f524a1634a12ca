//! The call-frequency graph Fm between services, with the user ingress as node `M−1`.
//! Builds the topological order SBMP needs and reports a cycle, naming its nodes, as an error.

use crate::bitset::Set;
use std::collections::VecDeque;

/// Why a call graph was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// The nodes of one directed cycle, in call order (the first node is not repeated).
    #[error("the call graph has a cycle through nodes {0:?}")]
    Cycle(Vec<usize>),
    /// An edge names a node outside `0..M`, or calls the user.
    #[error("call {from} -> {to} is not valid: {why}")]
    BadEdge {
        from: usize,
        to: usize,
        why: &'static str,
    },
}

/// Fm as adjacency lists: `children[i]` holds `(j, Fm[i][j])` for every `Fm[i][j] > 0`.
#[derive(Clone, Debug)]
pub struct CallGraph {
    m: usize,
    children: Vec<Vec<(usize, f64)>>,
    /// `parents[j]` holds `(i, Fm[i][j])` for the callers of `j`, in topological order.
    parents: Vec<Vec<(usize, f64)>>,
    topo: Vec<usize>,
    /// `rank[i]`: the position of `i` in `topo`.
    rank: Vec<usize>,
}

impl CallGraph {
    /// A graph of `services` services plus the user (node `services`). Duplicate edges are
    /// summed; edges with a frequency that is not positive are ignored.
    pub fn new(services: usize, edges: &[(usize, usize, f64)]) -> Result<Self, GraphError> {
        let m = services + 1;
        let user = services;
        let mut children: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m];
        for &(from, to, f) in edges {
            if from >= m || to >= m {
                return Err(GraphError::BadEdge {
                    from,
                    to,
                    why: "unknown node",
                });
            }
            if to == user {
                return Err(GraphError::BadEdge {
                    from,
                    to,
                    why: "nobody may call the user",
                });
            }
            if f.is_nan() || f <= 0.0 {
                continue;
            }
            match children[from].iter_mut().find(|(j, _)| *j == to) {
                Some((_, g)) => *g += f,
                None => children[from].push((to, f)),
            }
        }
        for c in &mut children {
            c.sort_by_key(|(j, _)| *j);
        }
        let topo = topological_order(&children)?;
        let mut rank = vec![0; m];
        for (r, &i) in topo.iter().enumerate() {
            rank[i] = r;
        }
        let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m];
        for &i in &topo {
            for &(j, f) in &children[i] {
                parents[j].push((i, f));
            }
        }
        Ok(Self {
            m,
            children,
            parents,
            topo,
            rank,
        })
    }

    /// Number of nodes, services plus the user.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The user (ingress) node, `M−1`.
    pub fn user(&self) -> usize {
        self.m - 1
    }

    /// `(j, Fm[i][j])` for the callees of `i`, in increasing `j`.
    pub fn children(&self, i: usize) -> &[(usize, f64)] {
        self.children.get(i).map_or(&[], Vec::as_slice)
    }

    /// `(i, Fm[i][j])` for the callers of `j`, in topological order of `i`.
    pub fn parents(&self, j: usize) -> &[(usize, f64)] {
        self.parents.get(j).map_or(&[], Vec::as_slice)
    }

    /// Every node, each after all of its callers.
    pub fn topo(&self) -> &[usize] {
        &self.topo
    }

    /// The position of `i` in [`CallGraph::topo`].
    pub fn rank(&self, i: usize) -> usize {
        self.rank.get(i).copied().unwrap_or(usize::MAX)
    }

    /// Nodes whose shortest directed hop distance from some node of `sources` is at most
    /// `depth` (sources are at distance 0).
    pub fn hop_ball(&self, sources: &Set, depth: usize) -> Set {
        let mut dist = vec![usize::MAX; self.m];
        let mut queue = VecDeque::new();
        let mut ball = Set::empty(self.m);
        for s in sources.iter() {
            dist[s] = 0;
            ball.insert(s);
            queue.push_back(s);
        }
        while let Some(i) = queue.pop_front() {
            if dist[i] >= depth {
                continue;
            }
            for &(j, _) in self.children(i) {
                if dist[j] == usize::MAX {
                    dist[j] = dist[i] + 1;
                    ball.insert(j);
                    queue.push_back(j);
                }
            }
        }
        ball
    }

    /// Nodes reachable from the user through nodes of `within` only (the user included).
    pub fn reachable_within(&self, within: &Set) -> Set {
        let mut seen = Set::empty(self.m);
        let mut stack = vec![self.user()];
        seen.insert(self.user());
        while let Some(i) = stack.pop() {
            for &(j, _) in self.children(i) {
                if within.contains(j) && !seen.contains(j) {
                    seen.insert(j);
                    stack.push(j);
                }
            }
        }
        seen
    }
}

/// Kahn's algorithm; on failure, walks callers among the unsorted nodes to name one cycle.
fn topological_order(children: &[Vec<(usize, f64)>]) -> Result<Vec<usize>, GraphError> {
    let m = children.len();
    let mut indegree = vec![0usize; m];
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (i, c) in children.iter().enumerate() {
        for &(j, _) in c {
            indegree[j] += 1;
            parents[j].push(i);
        }
    }
    // The user first, then services in index order: a stable, deterministic order.
    let mut ready: VecDeque<usize> = VecDeque::new();
    if m > 0 && indegree[m - 1] == 0 {
        ready.push_back(m - 1);
    }
    ready.extend((0..m.saturating_sub(1)).filter(|&i| indegree[i] == 0));
    let mut order = Vec::with_capacity(m);
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &(j, _) in &children[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    if order.len() == m {
        return Ok(order);
    }
    // Every unsorted node still has an unsorted caller: walk callers until a node repeats.
    let Some(start) = (0..m).find(|&i| indegree[i] > 0) else {
        return Err(GraphError::Cycle(Vec::new()));
    };
    let mut pos = vec![usize::MAX; m];
    let mut walk = Vec::new();
    let mut cur = start;
    loop {
        if pos[cur] != usize::MAX {
            let mut cycle: Vec<usize> = walk[pos[cur]..].to_vec();
            cycle.reverse(); // the walk followed callers: reverse it into call order
            return Err(GraphError::Cycle(rotate_to_min(cycle)));
        }
        pos[cur] = walk.len();
        walk.push(cur);
        match parents[cur].iter().find(|&&p| indegree[p] > 0) {
            Some(&p) => cur = p,
            None => return Err(GraphError::Cycle(walk)),
        }
    }
}

/// Starts a cycle at its smallest node, so that the message does not depend on the walk.
fn rotate_to_min(mut cycle: Vec<usize>) -> Vec<usize> {
    if let Some((k, _)) = cycle.iter().enumerate().min_by_key(|(_, v)| **v) {
        cycle.rotate_left(k);
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topological_order_puts_callers_first() {
        // user = 3; 3 -> 0 -> 1 -> 2, 0 -> 2
        let g = CallGraph::new(3, &[(3, 0, 1.0), (0, 1, 0.5), (1, 2, 1.0), (0, 2, 2.0)]).unwrap();
        assert_eq!(g.topo(), &[3, 0, 1, 2]);
        assert_eq!(g.children(0), &[(1, 0.5), (2, 2.0)]);
        assert_eq!(g.parents(2), &[(0, 2.0), (1, 1.0)]);
        assert_eq!((g.rank(3), g.rank(2)), (0, 3));
    }

    #[test]
    fn cycle_is_reported_in_call_order() {
        let err =
            CallGraph::new(4, &[(4, 0, 1.0), (0, 1, 1.0), (1, 2, 1.0), (2, 1, 0.3)]).unwrap_err();
        assert_eq!(err, GraphError::Cycle(vec![1, 2]));
        let err = CallGraph::new(2, &[(2, 0, 1.0), (0, 0, 1.0)]).unwrap_err();
        assert_eq!(err, GraphError::Cycle(vec![0]));
        let err = CallGraph::new(3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]).unwrap_err();
        assert_eq!(err, GraphError::Cycle(vec![0, 1, 2]));
    }

    #[test]
    fn calling_the_user_is_refused() {
        assert!(matches!(
            CallGraph::new(1, &[(0, 1, 1.0)]),
            Err(GraphError::BadEdge { .. })
        ));
    }

    #[test]
    fn hop_ball_and_reachability() {
        // user 4 -> 0 -> 1 -> 2 -> 3
        let g = CallGraph::new(4, &[(4, 0, 1.0), (0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)]).unwrap();
        let mut src = Set::empty(5);
        src.insert(0);
        assert_eq!(
            g.hop_ball(&src, 2).iter().collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        let mut within = Set::empty(5);
        within.insert(0);
        within.insert(2);
        assert_eq!(
            g.reachable_within(&within).iter().collect::<Vec<_>>(),
            vec![0, 4]
        );
    }
}
