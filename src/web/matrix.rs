//! The matrix of the dashboard and the projects list: rows of projects, a column per
//! environment in promotion order, each cell what is live there (and what is on its
//! way), with why a freeze blocks it now.

use std::collections::HashMap;

use super::live::Cell;
use crate::store::deployments::Live;
use crate::store::projects::{Environment, Project};

pub struct MatrixRow {
    pub project: Project,
    pub cells: Vec<Option<Cell>>,
    /// Per environment: why a deployment freeze blocks the cell now, or empty.
    pub frozen: Vec<String>,
}

impl MatrixRow {
    /// Why the cell in column `i` is frozen, or "".
    pub fn frozen_at(&self, i: &usize) -> &str {
        self.frozen.get(*i).map_or("", String::as_str)
    }
}

/// Rows of projects, a column per environment: what is live in each cell.
pub fn matrix(
    projects: Vec<Project>,
    environments: &[Environment],
    latest: &[Live],
    frozen: &HashMap<(i64, i64), String>,
    now: i64,
) -> Vec<MatrixRow> {
    let by_cell: HashMap<(i64, i64), &Live> = latest.iter().map(|l| (l.cell(), l)).collect();
    projects
        .into_iter()
        .map(|project| {
            let cells = environments
                .iter()
                .map(|e| by_cell.get(&(project.id, e.id)).map(|l| Cell::new(l, now)))
                .collect();
            let frozen = environments
                .iter()
                .map(|e| frozen.get(&(project.id, e.id)).cloned().unwrap_or_default())
                .collect();
            MatrixRow {
                project,
                cells,
                frozen,
            }
        })
        .collect()
}
