//! The proactive migration loop (seed 001), in kube-runtime's shape: a trigger (every period,
//! and woken when a declaration is registered), a runner (one round), and no retry of its own
//! (a failed round is logged; the next trigger runs the next).
//!
//! A round first observes the moves whose window has passed ([`super::ecosystem_learning`]),
//! then takes the workloads below the threshold (critical ones first, then the least
//! satisfied) and asks the migration strategy for each in turn (once more when it is still
//! below after a move), applying what it answers, until the round's budget of moves is spent. Graphs pinned with `useStaticPlacement` and
//! graphs that are not running are skipped.

use super::error::EngineError;
use super::lifecycle::Engine;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Workloads below the threshold.
    pub below: usize,
    /// Workloads the strategy was asked about.
    pub asked: usize,
    /// Moves committed.
    pub moved: usize,
}

impl Engine {
    /// One round of the loop with a budget of `budget` moves.
    pub async fn ecosystem_round(&self, budget: usize) -> Result<Round, EngineError> {
        // First what the moves before taught (the feedback loop).
        if let Err(error) = self.observe_outcomes().await {
            tracing::warn!(%error, "ecosystem outcomes not observed this round");
        }
        // Without the strategy loaded there is nobody to ask (and nothing to record each round).
        let loaded = smo_plugin_host::StrategyName::parse(&self.config().ecosystem_strategy)
            .ok()
            .is_some_and(|name| {
                self.dispatcher
                    .registry()
                    .entry(&name.plugin)
                    .is_ok_and(|entry| {
                        entry.offers(
                            smo_plugin_api::StrategyKind::MIGRATION.name(),
                            &name.strategy,
                        )
                    })
            });
        if !loaded {
            tracing::debug!(strategy = %self.config().ecosystem_strategy, "ecosystem round skipped: the strategy is not loaded");
            return Ok(Round::default());
        }
        let ordered = {
            let state = self.ecosystem_state()?;
            smo_core::ecosystem::options::candidates(
                state.map(),
                &state.weights(&self.config().ecosystem),
            )
        };
        let mut round = Round {
            below: ordered.len(),
            ..Round::default()
        };
        let mut queue: std::collections::VecDeque<(String, bool)> =
            ordered.into_iter().map(|c| (c.name, false)).collect();
        while let Some((name, again)) = queue.pop_front() {
            if round.moved >= budget {
                break;
            }
            let Some((graph, _)) = name.split_once('/') else {
                continue;
            };
            match self.store.get_graph(graph)? {
                Some(g)
                    if g.status == super::inventory::RUNNING && !g.spec.use_static_placement => {}
                _ => continue,
            }
            round.asked += 1;
            match self.migrate_workload(&name, true).await {
                Ok(view) if view.applied => {
                    round.moved += view.moves.len();
                    // Still below after its move (a neighbour may now join it): once more.
                    if !again && self.still_below(&name)? {
                        queue.push_front((name, true));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(workload = %name, %error, "ecosystem migration failed")
                }
            }
        }
        if round.below > 0 {
            tracing::info!(
                below = round.below,
                asked = round.asked,
                moved = round.moved,
                "ecosystem round"
            );
        }
        Ok(round)
    }
}

impl Engine {
    /// Whether workload `name` scores below the threshold (or misses a required dependency).
    fn still_below(&self, name: &str) -> Result<bool, EngineError> {
        let state = self.ecosystem_state()?;
        let weights = state.weights(&self.config().ecosystem);
        let map = state.map();
        Ok(map
            .id(name)
            .and_then(|id| map.score(id, &weights))
            .is_some_and(|s| s.violated || s.score < weights.threshold))
    }
}

/// Runs the loop every `period` (and when `wake` is notified) with `budget` moves a round,
/// until the engine is dropped.
pub fn spawn(
    engine: Weak<Engine>,
    wake: Arc<Notify>,
    period: Duration,
    budget: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: skip it, the map is empty at start.
        ticks.tick().await;
        loop {
            // When the round was due: a scheduled tick's instant; none for a wake-up.
            let due = tokio::select! {
                due = ticks.tick() => Some(due),
                _ = wake.notified() => None,
            };
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let started = tokio::time::Instant::now();
            let round = engine.ecosystem_round(budget).await;
            engine.loop_stats.ecosystem.round(
                period,
                due.map(|due| started.saturating_duration_since(due)),
                started.elapsed(),
                round.is_ok(),
            );
            if let Err(error) = round {
                tracing::warn!(%error, "ecosystem round failed");
            }
        }
    })
}
