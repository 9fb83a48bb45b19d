//! The SQLSTATE → HTTP table: one check per row, against errors raised by a real server.

use favcrm::error::{SQLSTATE_MAP, from_db_error};

use crate::common::TestApp;

#[tokio::test]
async fn every_row_of_the_sqlstate_table_maps_a_real_database_error() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for rule in SQLSTATE_MAP {
        let sql = format!(
            "do $$ begin raise exception using errcode = '{}', message = 'raised by the test', hint = 'test_code', column = 'some_field'; end $$",
            rule.sqlstate
        );
        let err = admin.batch_execute(&sql).await.unwrap_err();
        let api = from_db_error(&err);
        assert_eq!(api.status.as_u16(), rule.status, "{}", rule.sqlstate);
        // A raised code is the code, whatever the status (422 included).
        assert_eq!(api.code, "test_code", "{}", rule.sqlstate);
        assert_eq!(api.errors[0].code, "test_code", "{}", rule.sqlstate);
        assert_eq!(api.errors[0].field, "someField", "{}", rule.sqlstate);
        // Without a code of its own, the default applies.
        let bare = format!("do $$ begin raise exception using errcode = '{}'; end $$", rule.sqlstate);
        let api = from_db_error(&admin.batch_execute(&bare).await.unwrap_err());
        assert_eq!(api.status.as_u16(), rule.status);
        assert_eq!(api.code, rule.default_code, "{}", rule.sqlstate);
    }
    // Anything not in the table is an opaque 500.
    let err = admin.batch_execute("select 1/0").await.unwrap_err();
    let api = from_db_error(&err);
    assert_eq!((api.status.as_u16(), api.code.as_str()), (500, "internal_error"));
    assert!(!api.detail.contains("division"));
}

#[test]
fn sql_readme_lists_every_row_of_the_sqlstate_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/README.md")).unwrap();
    for rule in SQLSTATE_MAP {
        let row = format!("| `{}` | {} | `{}` |", rule.sqlstate, rule.status, rule.default_code);
        assert!(readme.contains(&row), "sql/README.md lacks the row {row}");
    }
}
