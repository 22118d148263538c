//! Slugs: the lower-case, dash-joined form of a name that people type for a project or an
//! environment (`GET /api/projects/web-app`). Each is given one when it is created, from
//! its name, made unique with `-2`, `-3`, ...; a rename keeps it unless a new one is
//! set. A row made before slugs (or by an older node during a rolling upgrade) has none
//! stored and answers with the slug of its name.

use std::collections::HashSet;

use super::sql::Conn;
use crate::error::{Error, Result};

/// The tables that have slugs.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Projects,
    Environments,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Projects => "projects",
            Kind::Environments => "environments",
        }
    }

    /// What a name with no letter or digit in it gets.
    fn fallback(self) -> &'static str {
        match self {
            Kind::Projects => "project",
            Kind::Environments => "environment",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Projects => "project",
            Kind::Environments => "environment",
        }
    }
}

/// The longest slug.
pub const MAX_SLUG: usize = 200;

/// The slug of `name`: lower case, each run of anything but letters and digits as one
/// dash, none at either end (`"Web App (EU)"` → `web-app-eu`).
pub fn of_name(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    let mut end = slug.len().min(MAX_SLUG);
    while !slug.is_char_boundary(end) {
        end -= 1;
    }
    slug.truncate(end);
    slug.trim_end_matches('-').to_string()
}

/// What a row answers with: its stored slug, else its name's.
pub fn effective(stored: Option<String>, name: &str) -> String {
    stored.unwrap_or_else(|| of_name(name))
}

/// Whether `slug` may be set as given: 1 to [`MAX_SLUG`] bytes of lower-case letters and
/// digits in dash-separated words (what [`of_name`] makes). A 400 naming `Slug` says
/// what is wrong.
pub fn check(slug: &str) -> Result<()> {
    let problem = if slug.is_empty() {
        Some("must not be empty".to_string())
    } else if slug.len() > MAX_SLUG {
        Some(format!("must be at most {MAX_SLUG} bytes"))
    } else if slug != of_name(slug) {
        Some(format!(
            "'{}' is not a slug: use lower-case letters and digits joined by single dashes, \
             such as '{}'",
            crate::error::shown(slug),
            of_name(slug)
        ))
    } else {
        None
    };
    problem.map_or(Ok(()), |p| Err(Error::bad("Slug", p)))
}

/// Every slug in use in `kind`'s table but `except`'s, as each row answers with it.
fn taken(conn: &Conn, kind: Kind, except: Option<i64>) -> Result<HashSet<String>> {
    let rows = conn.query(&format!("SELECT id, name, slug FROM {}", kind.table()), &[])?;
    let mut taken = HashSet::with_capacity(rows.len());
    for row in rows {
        if Some(row.get::<i64>(0)?) != except {
            taken.insert(effective(row.get(2)?, &row.get::<String>(1)?));
        }
    }
    Ok(taken)
}

/// The slug a new row named `name` gets: its name's, or with `-2`, `-3`, ... after it
/// when that is taken.
pub fn fresh(conn: &Conn, kind: Kind, name: &str) -> Result<String> {
    let taken = taken(conn, kind, None)?;
    let base = match of_name(name) {
        slug if slug.is_empty() => kind.fallback().to_string(),
        slug => slug,
    };
    let mut candidate = base.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

/// Refuses `slug` for row `id` (or a new row) when another row answers with it: a 409
/// naming both.
pub fn claim(conn: &Conn, kind: Kind, id: Option<i64>, slug: &str) -> Result<()> {
    if taken(conn, kind, id)?.contains(slug) {
        return Err(Error::Conflict(format!(
            "Slug: another {} already has the slug '{slug}'.",
            kind.noun()
        )));
    }
    Ok(())
}

/// The row `slug` names, if any (a stored slug, else a name's when none is stored).
pub fn find(conn: &Conn, kind: Kind, slug: &str) -> Result<Option<i64>> {
    let table = kind.table();
    if let Some(row) =
        conn.query_opt(&format!("SELECT id FROM {table} WHERE slug = ?1"), &[&slug])?
    {
        return Ok(Some(row.get(0)?));
    }
    let unset = conn.query(
        &format!("SELECT id, name FROM {table} WHERE slug IS NULL ORDER BY id"),
        &[],
    )?;
    for row in unset {
        if of_name(&row.get::<String>(1)?) == slug {
            return Ok(Some(row.get(0)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_of_names() {
        assert_eq!(of_name("Web App (EU)"), "web-app-eu");
        assert_eq!(of_name("  --Äpfel & Birnen--  "), "äpfel-birnen");
        assert_eq!(of_name("!!!"), "");
        assert_eq!(of_name(&"ab ".repeat(200)).len(), MAX_SLUG);
        assert!(check("web-app-eu").is_ok());
        assert!(check("Web").is_err());
        assert!(check("web--app").is_err());
        assert!(check("-web").is_err());
        assert!(check("").is_err());
        assert!(check("a\u{0}b").is_err());
    }
}
