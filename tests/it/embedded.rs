//! The embedded cluster keeps its data across a stop and a start.

use favcrm::db::{ClusterUse, Database, DbSettings};
use serde_json::json;

#[test]
fn the_embedded_cluster_restarts_with_its_data_intact() {
    let dir = std::env::temp_dir().join(format!("favcrm-restart-{}", uuid::Uuid::new_v4().simple()));
    let settings = DbSettings {
        database_url: None,
        data_dir: dir.clone(),
        authenticator_password: None,
        pool_size: 2,
        cluster: ClusterUse::Serve,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let org_id: String = runtime.block_on(async {
        let db = Database::open(&settings).await.unwrap();
        db.migrate(None, favcrm::db::Reapply::WhenChanged).await.unwrap();
        let admin = db.admin_client().await.unwrap();
        admin.batch_execute("set role favcrm_owner").await.unwrap();
        let row = admin
            .query_one(
                "select auth.bootstrap_organisation($1)",
                &[&json!({"name": "Keep me", "ownerEmail": "k@example.com"})],
            )
            .await
            .unwrap();
        drop(admin);
        db.shutdown();
        row.get::<_, serde_json::Value>(0)["organisationId"].as_str().unwrap().to_string()
    });
    let name: String = runtime.block_on(async {
        let db = Database::open(&settings).await.unwrap();
        db.migrate(None, favcrm::db::Reapply::WhenChanged).await.unwrap();
        let admin = db.admin_client().await.unwrap();
        let row =
            admin.query_one("select name from app.organisations where id = $1::text::uuid", &[&org_id]).await.unwrap();
        drop(admin);
        db.shutdown();
        row.get(0)
    });
    assert_eq!(name, "Keep me");
    let _ = std::fs::remove_dir_all(&dir);
}
