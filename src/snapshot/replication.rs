//! Replica status (`SHOW ALL SLAVES STATUS` on MariaDB, `SHOW REPLICA STATUS` on MySQL 8.0.22+,
//! `SHOW SLAVE STATUS` before): one row per replication channel of this server acting as a
//! replica, none on a server that replicates from nobody. Columns are read by name, in both
//! spellings (MySQL 8.0.22 renamed `Slave_*`/`Master_*` to `Replica_*`/`Source_*`), see
//! docs/replication.md. The rows are hostile input: a missing column decodes to a default.

use mysql::Row;

use super::model::ReplicaChannel;

/// The value of the first of `names` the row has (either spelling), as text.
fn col(r: &Row, names: &[&str]) -> Option<String> {
    let cols = r.columns_ref();
    let i = names.iter().find_map(|n| {
        cols.iter()
            .position(|c| c.name_str().eq_ignore_ascii_case(n))
    })?;
    super::row::text(r, i)
}

fn col_num(r: &Row, names: &[&str]) -> Option<u64> {
    col(r, names)?.trim().parse().ok()
}

/// Every channel of the result.
pub fn rows(rows: &[Row]) -> Vec<ReplicaChannel> {
    rows.iter()
        .map(|r| ReplicaChannel {
            name: col(r, &["Connection_name", "Channel_Name"]).unwrap_or_default(),
            source_host: col(r, &["Master_Host", "Source_Host"]).unwrap_or_default(),
            io_running: col(r, &["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or_default(),
            sql_running: col(r, &["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or_default(),
            seconds_behind: col_num(r, &["Seconds_Behind_Master", "Seconds_Behind_Source"]),
            sql_state: col(r, &["Slave_SQL_Running_State", "Replica_SQL_Running_State"])
                .unwrap_or_default(),
            last_sql_errno: col_num(r, &["Last_SQL_Errno"]).unwrap_or(0),
            last_sql_error: col(r, &["Last_SQL_Error"]).unwrap_or_default(),
            last_io_errno: col_num(r, &["Last_IO_Errno"]).unwrap_or(0),
            last_io_error: col(r, &["Last_IO_Error"]).unwrap_or_default(),
        })
        .collect()
}
