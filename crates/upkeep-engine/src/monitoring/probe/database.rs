//! `postgres`, `mysql` and `redis` probes: connect, log in, and ask the optional `query`
//! (SQL) or `command` (Redis) whose answer conditions test as `[BODY]`.
//!
//! Each check opens its own connection (a monitor tests that a client can get in, so no pool)
//! and closes it politely. PostgreSQL and MySQL go through sqlx: the query is sent with the
//! simple (text) protocol, so any column type reads as text. PostgreSQL sessions are read-only
//! (`default_transaction_read_only`) and their `statement_timeout` is the monitor's timeout.
//! Redis goes through the `redis` crate.
//!
//! The answer is bounded: for SQL the first row only, at most [`MAX_COLUMNS`] columns, each
//! value cut to [`MAX_VALUE_CHARS`] characters; `[BODY]` is the first column's value and
//! `[BODY].NAME` the column `NAME`. For Redis the reply's text cut to [`MAX_TEXT_BYTES`];
//! `INFO` replies also read as fields (`[BODY].role`, `[BODY].master_link_status`, at most
//! [`MAX_FIELDS`]), other replies as JSON when they are JSON, arrays as their first
//! [`MAX_FIELDS`] items.
//!
//! The password (from the URL, `password` or `password_file`) never appears in a failure: the
//! URL is shown without it and any echo of it is masked.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sqlx::{ConnectOptions, Connection, Row};
use upkeep_domain::config::{DatabaseCheck, MonitorKind, Secret};

use super::{Failure, Progress, Seen, cut, io_error_text, stage};

/// SQL answers: at most this many columns of the first row are kept.
pub const MAX_COLUMNS: usize = 32;
/// SQL answers: each kept value is cut to this many characters.
pub const MAX_VALUE_CHARS: usize = 1024;
/// Redis answers: the reply's text is cut to this many bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Redis answers: at most this many `INFO` fields or array items are kept.
pub const MAX_FIELDS: usize = 256;

/// Which server a check talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Engine {
    Postgres,
    Mysql,
    Redis,
}

impl Engine {
    /// The engine of a database kind (PostgreSQL for any other kind).
    pub(super) fn of(kind: &MonitorKind) -> Engine {
        match kind {
            MonitorKind::Mysql(_) => Engine::Mysql,
            MonitorKind::Redis(_) => Engine::Redis,
            _ => Engine::Postgres,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::Mysql => "MySQL",
            Engine::Redis => "Redis",
        }
    }

    fn question(self) -> &'static str {
        match self {
            Engine::Redis => "command",
            _ => "query",
        }
    }
}

/// `host[:port]` of the URL, for messages.
pub(super) fn address(check: &DatabaseCheck) -> &str {
    let rest = check
        .url
        .split_once("://")
        .map_or(check.url.as_str(), |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
    {
        "" => "localhost",
        host => host,
    }
}

/// "while logging in to PostgreSQL at db:5432" or "waiting for the answer to the query ...".
pub(super) fn describe(engine: Engine, check: &DatabaseCheck, reached: u8) -> String {
    if reached >= stage::CONNECTED && check.query.is_some() {
        format!(
            " waiting for {} at {} to answer the {}",
            engine.name(),
            address(check),
            engine.question()
        )
    } else if reached >= stage::CONNECTED && engine == Engine::Redis {
        format!(" waiting for Redis at {} to answer PING", address(check))
    } else if reached >= stage::CONNECTED {
        format!(
            " closing the session with {} at {}",
            engine.name(),
            address(check)
        )
    } else {
        format!(
            " connecting and logging in to {} at {}",
            engine.name(),
            address(check)
        )
    }
}

pub(super) async fn probe(
    engine: Engine,
    check: &DatabaseCheck,
    needs_answer: bool,
    timeout: Duration,
    progress: &Progress,
) -> Result<Seen, Failure> {
    let password = password(check).await?;
    let started = Instant::now();
    let answer = match engine {
        Engine::Postgres => postgres(check, password.as_deref(), timeout, progress).await,
        Engine::Mysql => mysql(check, password.as_deref(), progress).await,
        Engine::Redis => redis(check, password.as_deref(), progress).await,
    }
    .map_err(|message| Failure::new(masked(message, password.as_deref())))?;
    let elapsed = started.elapsed();
    let (body, json) = match answer {
        Answer::Nothing => (None, None),
        Answer::Empty if needs_answer => {
            return Err(Failure::new(match engine {
                Engine::Redis => "the command answered nil".to_owned(),
                _ => "the query returned no row".to_owned(),
            }));
        }
        Answer::Empty => (None, None),
        Answer::Value { text, json } => (Some(text), json),
    };
    Ok(Seen {
        elapsed,
        body,
        json,
        ..Seen::default()
    })
}

/// The password from `password` or `password_file` (its first line), if either is set.
pub(super) async fn password(check: &DatabaseCheck) -> Result<Option<String>, Failure> {
    let secret = match (&check.password, &check.password_file) {
        (Some(password), _) => Secret::Value(password.clone()),
        (None, Some(path)) => Secret::File(path.clone()),
        (None, None) => return Ok(None),
    };
    super::read_secret(&secret, "password").await.map(Some)
}

/// `message` with every occurrence of the password masked.
pub(super) fn masked(message: String, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() && message.contains(password) => {
            message.replace(password, "***")
        }
        _ => message,
    }
}

/// What a server answered.
enum Answer {
    /// No question was asked.
    Nothing,
    /// No row (SQL) or nil (Redis).
    Empty,
    /// The answer as text, and as JSON when it has fields.
    Value { text: String, json: Option<Value> },
}

async fn postgres(
    check: &DatabaseCheck,
    password: Option<&str>,
    timeout: Duration,
    progress: &Progress,
) -> Result<Answer, String> {
    let engine = Engine::Postgres;
    let mut options: sqlx::postgres::PgConnectOptions = check
        .url
        .parse()
        .map_err(|err| sql_error(engine, check, &err, false))?;
    if let Some(password) = password {
        options = options.password(password);
    }
    let statement_timeout = timeout.as_millis().to_string();
    options = options.options([
        ("default_transaction_read_only", "on"),
        ("statement_timeout", statement_timeout.as_str()),
    ]);
    ask(engine, check, options, progress).await
}

async fn mysql(
    check: &DatabaseCheck,
    password: Option<&str>,
    progress: &Progress,
) -> Result<Answer, String> {
    let engine = Engine::Mysql;
    let url = match check.url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => check.url.clone(),
    };
    let mut options: sqlx::mysql::MySqlConnectOptions = url
        .parse()
        .map_err(|err| sql_error(engine, check, &err, false))?;
    if let Some(password) = password {
        options = options.password(password);
    }
    ask(engine, check, options, progress).await
}

/// Connects with `options`, asks the check's query and closes the connection.
async fn ask<O>(
    engine: Engine,
    check: &DatabaseCheck,
    options: O,
    progress: &Progress,
) -> Result<Answer, String>
where
    O: ConnectOptions,
    O::Connection: Sized,
    for<'c> &'c mut O::Connection:
        sqlx::Executor<'c, Database = <O::Connection as Connection>::Database>,
    for<'r> String: sqlx::Decode<'r, <O::Connection as Connection>::Database>,
    usize: sqlx::ColumnIndex<<<O::Connection as Connection>::Database as sqlx::Database>::Row>,
{
    let mut connection = options
        .disable_statement_logging()
        .connect()
        .await
        .map_err(|err| sql_error(engine, check, &err, false))?;
    progress.reached(stage::CONNECTED);
    let answer = match &check.query {
        None => Answer::Nothing,
        Some(query) => {
            let row = sqlx::raw_sql(sqlx::AssertSqlSafe(query.clone()))
                .fetch_optional(&mut connection)
                .await
                .map_err(|err| sql_error(engine, check, &err, true))?;
            match row {
                None => Answer::Empty,
                Some(row) => first_row(&row),
            }
        }
    };
    // A failed goodbye does not fail a check whose answer is in.
    let _ = connection.close().await;
    Ok(answer)
}

/// The first row as `[BODY]` (its first column) and `[BODY].NAME`, bounded.
fn first_row<R: Row>(row: &R) -> Answer
where
    for<'r> String: sqlx::Decode<'r, R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::Column;
    let mut fields = Map::new();
    let mut first = None;
    for (index, column) in row.columns().iter().enumerate().take(MAX_COLUMNS) {
        let value = match row.try_get_unchecked::<Option<String>, _>(index) {
            Ok(Some(text)) => Value::String(cut(&text, MAX_VALUE_CHARS)),
            Ok(None) => Value::Null,
            Err(_) => Value::String("(not text)".to_owned()),
        };
        if first.is_none() {
            first = Some(match &value {
                Value::String(text) => text.clone(),
                _ => String::new(),
            });
        }
        fields.insert(column.name().to_owned(), value);
    }
    Answer::Value {
        text: first.unwrap_or_default(),
        json: Some(Value::Object(fields)),
    }
}

/// A sqlx error in words; `asking` tells that the login had succeeded.
fn sql_error(engine: Engine, check: &DatabaseCheck, err: &sqlx::Error, asking: bool) -> String {
    let server = format!("{} at {}", engine.name(), address(check));
    match err {
        sqlx::Error::Io(io) => io_error_text(io, address(check)),
        sqlx::Error::Tls(tls) => format!("TLS error with {server}: {tls}"),
        sqlx::Error::Configuration(why) => {
            format!("bad {} URL `{}`: {why}", engine.name(), check.shown_url())
        }
        sqlx::Error::Protocol(why) => {
            format!(
                "{server} broke the protocol (is it {}?): {why}",
                engine.name()
            )
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = db.message();
            if asking {
                format!("the query failed on {server}: {message} ({code})")
            } else if code.starts_with("28") {
                format!("{server} refused the credentials: {message}")
            } else {
                format!("{server} refused the session: {message} ({code})")
            }
        }
        other => format!("{server}: {other}"),
    }
}

async fn redis(
    check: &DatabaseCheck,
    password: Option<&str>,
    progress: &Progress,
) -> Result<Answer, String> {
    use redis::IntoConnectionInfo;
    let engine = Engine::Redis;
    let server = format!("{} at {}", engine.name(), address(check));
    let mut info = check
        .url
        .as_str()
        .into_connection_info()
        .map_err(|err| format!("bad Redis URL `{}`: {err}", check.shown_url()))?;
    if let Some(password) = password {
        let settings = info.redis_settings().clone().set_password(password);
        info = info.set_redis_settings(settings);
    }
    let client = redis::Client::open(info)
        .map_err(|err| format!("bad Redis URL `{}`: {err}", check.shown_url()))?;
    // The monitor's timeout bounds the whole check; the client adds none of its own.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(None)
        .set_response_timeout(None);
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|err| redis_error(&server, check, &err, false))?;
    progress.reached(stage::CONNECTED);
    let Some(command) = &check.query else {
        let _: redis::Value = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|err| redis_error(&server, check, &err, false))?;
        return Ok(Answer::Nothing);
    };
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or("PING");
    let mut cmd = redis::cmd(name);
    for word in words {
        cmd.arg(word);
    }
    let reply: redis::Value = cmd
        .query_async(&mut connection)
        .await
        .map_err(|err| redis_error(&server, check, &err, true))?;
    Ok(redis_answer(reply, name.eq_ignore_ascii_case("INFO")))
}

/// A Redis error in words.
fn redis_error(
    server: &str,
    check: &DatabaseCheck,
    err: &redis::RedisError,
    asking: bool,
) -> String {
    use std::error::Error as _;
    if err.is_connection_refusal() {
        return format!("connection refused by {}", address(check));
    }
    if let Some(io) = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
    {
        return io_error_text(io, address(check));
    }
    if err.kind() == redis::ErrorKind::AuthenticationFailed {
        return format!("{server} refused the credentials: wrong user name or password");
    }
    let detail = err.detail().unwrap_or("");
    match err.code() {
        Some("WRONGPASS" | "NOAUTH") => {
            format!(
                "{server} refused the credentials: {} {detail}",
                err.code().unwrap_or("")
            )
        }
        Some(code) if asking => format!("the command failed on {server}: {code} {detail}"),
        _ if err.is_io_error() => format!("connection to {} failed: {err}", address(check)),
        _ => format!("{server}: {err}"),
    }
}

/// A Redis reply as `[BODY]`, bounded.
fn redis_answer(reply: redis::Value, info: bool) -> Answer {
    match reply {
        redis::Value::Nil => Answer::Empty,
        redis::Value::Array(items) | redis::Value::Set(items) => {
            let texts: Vec<String> = items
                .into_iter()
                .take(MAX_FIELDS)
                .map(|item| value_text(&item))
                .collect();
            let text = bounded(texts.join("\n"));
            let json = Value::Array(texts.into_iter().map(Value::String).collect());
            Answer::Value {
                text,
                json: Some(json),
            }
        }
        redis::Value::Map(pairs) => {
            let fields: Map<String, Value> = pairs
                .iter()
                .take(MAX_FIELDS)
                .map(|(key, value)| (value_text(key), Value::String(value_text(value))))
                .collect();
            let text = bounded(
                fields
                    .iter()
                    .map(|(key, value)| format!("{key}:{}", value.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            Answer::Value {
                text,
                json: Some(Value::Object(fields)),
            }
        }
        other => {
            let text = bounded(value_text(&other));
            let json = if info {
                Some(info_fields(&text))
            } else {
                serde_json::from_str(&text).ok()
            };
            Answer::Value { text, json }
        }
    }
}

/// A scalar reply as text (nested replies as their debug form).
fn value_text(value: &redis::Value) -> String {
    match value {
        redis::Value::Nil => String::new(),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(text) => text.clone(),
        redis::Value::Okay => "OK".to_owned(),
        redis::Value::Double(n) => n.to_string(),
        redis::Value::Boolean(b) => b.to_string(),
        redis::Value::VerbatimString { text, .. } => text.clone(),
        other => format!("{other:?}"),
    }
}

/// `text` cut to [`MAX_TEXT_BYTES`] on a character boundary.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The `name:value` lines of an `INFO` reply as fields (section headers and blank lines
/// skipped), at most [`MAX_FIELDS`].
pub(super) fn info_fields(text: &str) -> Value {
    let fields: Map<String, Value> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .take(MAX_FIELDS)
        .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
        .collect();
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> DatabaseCheck {
        DatabaseCheck {
            url: url.to_owned(),
            password: None,
            password_file: None,
            query: None,
        }
    }

    #[test]
    fn addresses_never_carry_credentials() {
        assert_eq!(
            address(&check("postgres://u:secret@db:5433/app")),
            "db:5433"
        );
        assert_eq!(
            address(&check("redis://127.0.0.1:6379/0")),
            "127.0.0.1:6379"
        );
        assert_eq!(address(&check("mysql://root@/test")), "localhost");
    }

    #[test]
    fn info_replies_read_as_fields() {
        let fields = info_fields("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
        assert_eq!(fields["role"], "master");
        assert_eq!(fields["connected_slaves"], "0");
        let many: String = (0..1000).map(|i| format!("f{i}:{i}\n")).collect();
        assert_eq!(
            info_fields(&many).as_object().map(Map::len),
            Some(MAX_FIELDS)
        );
    }

    #[test]
    fn echoed_passwords_are_masked() {
        assert_eq!(
            masked("bad s3cret here".into(), Some("s3cret")),
            "bad *** here"
        );
        assert_eq!(masked("nothing".into(), Some("")), "nothing");
    }
}
