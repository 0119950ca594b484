//! The batch behind `svcc apply --remove`.

/// Deletes svcc's tables in both families and nothing else. Each `add` makes the following
/// `delete` safe when the table does not exist.
pub fn removal(table: &str) -> String {
    format!("add table ip {table}\ndelete table ip {table}\nadd table ip6 {table}\ndelete table ip6 {table}\n")
}
