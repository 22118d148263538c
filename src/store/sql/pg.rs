//! PostgreSQL's side of `store::sql`: the pool's connections (`database_url`, libpq's
//! URL), what a message may show of the URL, and how the four values of `sql::Value`
//! cross to PostgreSQL's types and back.

use std::cell::RefCell;
use std::time::Duration;

use super::{percent_decoded, PgConn, Row, Value};
use crate::error::{Error, Result};

/// How long a connection may take to open, when the URL does not say (`connect_timeout`).
pub const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the connection is dropped
/// (`TCP_USER_TIMEOUT`), and TCP keepalives: a silent peer is found within about this.
pub const TCP_GIVE_UP: Duration = Duration::from_secs(10);
/// The settings of every drydock session (ahead of the URL's own `options`, which
/// win): no statement runs longer than 30 s, no lock is waited for longer than 10 s,
/// and a session left idle inside a transaction for 10 s (its node cut off, holding a
/// lock) is ended by the server, which keeps alive-checking its side too.
pub const SESSION_OPTIONS: &str = "-c statement_timeout=30000 -c lock_timeout=10000 \
     -c idle_in_transaction_session_timeout=10000 -c tcp_keepalives_idle=5 \
     -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3";

/// Deadlines on every wait of a connection (ARCHITECTURE.md, "Deadlines on the
/// database"): opening it, TCP keepalives and user timeout on drydock's side, and
/// [`SESSION_OPTIONS`] on the server's.
fn with_deadlines(config: &mut postgres::Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_WITHIN);
    }
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(TCP_GIVE_UP);
    let options = match config.get_options() {
        Some(own) if !own.trim().is_empty() => format!("{SESSION_OPTIONS} {own}"),
        _ => SESSION_OPTIONS.to_string(),
    };
    config.options(&options);
}

/// Makes the pool's PostgreSQL connections (`database_url`).
pub struct PgManager {
    config: postgres::Config,
    /// How connections are encrypted (`sslmode`, `sslrootcert`: `sql::tls`).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The node these connections belong to (their `application_name`, which the
    /// queue's notifications carry: `store::notify`).
    node: String,
}

impl PgManager {
    /// From a URL as libpq spells it (`postgres://user:pass@host:port/db?sslmode=...`).
    pub fn new(url: &str) -> Result<PgManager> {
        let (rest, tls) = super::tls::from_url(url)?;
        let mut config: postgres::Config = rest.parse().map_err(|e| {
            Error::bad(
                "database_url",
                format!("{} is not a PostgreSQL URL: {e}", redacted(url)),
            )
        })?;
        config.ssl_mode(tls.mode.for_client());
        with_deadlines(&mut config);
        Ok(PgManager {
            config,
            tls: tls.connector,
            node: String::new(),
        })
    }

    /// Connections named after `node` (PostgreSQL's `application_name`).
    pub fn for_node(mut self, node: &str) -> PgManager {
        self.config.application_name(node);
        self.node = node.to_string();
        self
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// A connection outside the pool (migrations, `LISTEN`).
    pub fn connect_client(&self) -> Result<postgres::Client> {
        self.connect().map_err(|e| {
            Error::Unavailable(format!("cannot connect to PostgreSQL: {}", with_causes(&e)))
        })
    }

    fn connect(&self) -> std::result::Result<postgres::Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = RefCell<PgConn>;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<RefCell<PgConn>, postgres::Error> {
        Ok(RefCell::new(PgConn::new(PgManager::connect(self)?)))
    }

    fn is_valid(&self, conn: &mut RefCell<PgConn>) -> std::result::Result<(), postgres::Error> {
        conn.get_mut().client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut RefCell<PgConn>) -> bool {
        conn.get_mut().client.is_closed()
    }
}

/// `e` and what caused it (a TLS handshake's error says only that it failed; its
/// cause says which certificate check did).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        cause = c.source();
    }
    text
}

/// `url` without its password, and the password (for a program that takes it from a
/// file): libpq takes it from the URL's user information (`user:PASSWORD@`) or a
/// `password=` parameter, and both go.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut password = None;
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, secret)) => {
                    password = Some(percent_decoded(secret));
                    format!("{scheme}://{user}@{host}")
                }
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    let mut kept = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some((key, value)) if percent_decoded(key) == "password" => {
                password = Some(percent_decoded(value));
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, password)
}

/// Whether `url` carries a password (in its user information or a parameter).
pub fn has_password(url: &str) -> bool {
    split_password(url).1.is_some()
}

/// `url` with its password replaced, for messages.
pub fn redacted(url: &str) -> String {
    let (without, password) = split_password(url);
    if password.is_none() {
        return url.to_string();
    }
    match without.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains('/') => format!("{scheme}://{user}:***@{host}"),
            _ => format!("{without} (password ***)"),
        },
        None => without,
    }
}

/// PostgreSQL's text cannot hold a NUL character (SQLite's can): such a value is bad
/// input, refused before it reaches the server.
pub(super) fn storable(values: &[Value]) -> Result<()> {
    if values
        .iter()
        .any(|v| matches!(v, Value::Text(t) if t.contains('\0')))
    {
        return Err(Error::bad(
            "text",
            "a value contains a NUL character, which the database does not store",
        ));
    }
    Ok(())
}

pub(super) fn postgres_params(values: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

pub(super) fn postgres_error(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    match e.code() {
        // Two changes that each waited for the other (PostgreSQL aborts one of them):
        // nothing was written; the caller may try again.
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            Error::Unavailable(format!(
                "the database could not make this change now, try again ({e})"
            ))
        }
        // The database restarting or shutting down, out of connections, a deadline
        // passed (statement_timeout, lock_timeout), or the connection lost: nothing
        // this request changed was committed unless its commit was answered; the
        // caller may try again.
        Some(c)
            if c.code().starts_with("08")
                || c.code().starts_with("53")
                || c.code().starts_with("57")
                || *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT =>
        {
            Error::Unavailable(format!(
                "the database is not available now, try again ({})",
                with_causes(&e)
            ))
        }
        Some(_) => Error::internal_from("database", e),
        None if e.is_closed() || std::error::Error::source(&e).is_some() => {
            Error::Unavailable(format!(
                "the database cannot be reached now, try again ({})",
                with_causes(&e)
            ))
        }
        None => Error::internal_from("database", e),
    }
}

pub(super) fn from_postgres(
    row: &postgres::Row,
    columns: &std::sync::Arc<[String]>,
) -> Result<Row> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let failed = |e: postgres::Error| Error::internal_from("database", e);
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(failed)?
                .map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(failed)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(failed)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(failed)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)
                .map_err(failed)?
                .map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)
                .map_err(failed)?
                .map(|v| Value::Real(v.into()))
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME, Type::BPCHAR].contains(ty) {
            row.try_get::<_, Option<String>>(i)
                .map_err(failed)?
                .map(Value::Text)
        } else {
            return Err(Error::internal(format!(
                "database: column {} is of type {ty}, which the store does not read (cast it)",
                column.name()
            )));
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row {
        values,
        columns: columns.clone(),
    })
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Int(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Value::Real(f) if *ty == Type::FLOAT8 => f.to_sql(ty, out),
            Value::Real(f) if *ty == Type::FLOAT4 => (*f as f32).to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            other => Err(format!("{other:?} cannot be a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_from_the_user_information_and_the_parameters() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            (
                "postgres://u@h:5432/db?sslmode=require".into(),
                Some("p@ss".into())
            )
        );
        assert_eq!(
            split_password(
                "postgres://u@h/db?sslmode=verify-full&password=s%26t&connect_timeout=5"
            ),
            (
                "postgres://u@h/db?sslmode=verify-full&connect_timeout=5".into(),
                Some("s&t".into())
            )
        );
        assert_eq!(
            split_password("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None)
        );
        for url in [
            "postgres://u:secret@h/db",
            "postgres://u@h/db?password=secret",
            "postgres://h/db?password=secret",
        ] {
            assert!(has_password(url));
            assert!(!redacted(url).contains("secret"), "{}", redacted(url));
        }
        assert!(!has_password("postgres://u@h/db?sslmode=disable"));
    }
}
