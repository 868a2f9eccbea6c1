//! Project and document storage on every database it supports: SQLite always, and
//! PostgreSQL as well when `DATABASE_URL` names one (CI sets it).

use crate::storage::every_backend;
use app::protocol::rest::{IndexReport, ProjectFilters, ProjectKind, ProjectStatus};
use server::storage::documents::DocumentRow;
use server::storage::projects::NewProject;
use uuid::Uuid;

fn row(path: &str, content: &str, chunks: u64) -> DocumentRow {
    DocumentRow {
        id: Uuid::new_v4().to_string(),
        path: path.into(),
        language: "rust".into(),
        size: content.len() as u64,
        content_hash: format!("hash-of-{content}"),
        content: content.into(),
        chunks,
        origin: "source",
    }
}

#[tokio::test]
async fn projects_and_documents_round_trip() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4().to_string();
        let key = format!("https://example.com/{id}");
        let filters = ProjectFilters {
            excluded_dirs: vec!["tests".into()],
            ..ProjectFilters::default()
        };
        store
            .insert_project(&NewProject {
                id: &id,
                name: "o/r",
                kind: ProjectKind::Git,
                source: Some(&key),
                source_key: Some(&key),
                branch: None,
                filters: &filters,
                job_id: Some("job-1"),
                needs_token: true,
                now: 100,
            })
            .await
            .expect("insert");
        let project = store.project(&id).await.unwrap().expect("stored");
        assert_eq!(project.status, ProjectStatus::Indexing, "{backend:?}");
        assert!(project.needs_token, "{backend:?}");
        assert_eq!(project.filters, filters);
        assert_eq!(project.job_id.as_deref(), Some("job-1"));
        let found = store.project_by_source(&key, None, &filters).await.unwrap();
        assert_eq!(found.map(|p| p.id), Some(id.clone()), "{backend:?}");
        assert!(
            store
                .project_by_source(&key, Some("dev"), &filters)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .project_by_source(&key, None, &ProjectFilters::default())
                .await
                .unwrap()
                .is_none(),
            "other filters, another project"
        );

        let a = row("src/a.rs", "fn a() {}", 2);
        let b = row("src/b.rs", "fn b() {}", 3);
        store
            .apply_document_changes(&id, &[a.clone(), b.clone()], &[], 200)
            .await
            .unwrap();
        let changed = DocumentRow {
            content: "fn a2() {}".into(),
            content_hash: "new".into(),
            chunks: 4,
            ..a.clone()
        };
        store
            .apply_document_changes(&id, &[changed], &["src/b.rs".into()], 300)
            .await
            .unwrap();
        let report = IndexReport {
            changed: 1,
            removed: 1,
            chunks_indexed: 4,
            ..IndexReport::default()
        };
        store
            .finish_project_index(&id, Some("abc123"), &report, 400)
            .await
            .unwrap();
        let project = store.project(&id).await.unwrap().unwrap();
        assert_eq!(project.status, ProjectStatus::Ready, "{backend:?}");
        assert_eq!((project.documents, project.chunks), (1, 4), "{backend:?}");
        assert_eq!(project.commit.as_deref(), Some("abc123"));
        assert_eq!(project.last_index, Some(report));
        assert_eq!(project.indexed_at, Some(400));

        let hashes = store.document_hashes(&id).await.unwrap();
        assert_eq!(hashes.len(), 1);
        assert_eq!(hashes[0].id, a.id, "an update keeps the document's id");
        assert_eq!(hashes[0].content_hash, "new");
        let content = store.document_content(&id, "src/a.rs").await.unwrap();
        assert_eq!(content.map(|c| c.content).as_deref(), Some("fn a2() {}"));
        assert_eq!(store.document_paths(&id).await.unwrap(), ["src/a.rs"]);
        store
            .set_document_chunks(&id, &[("src/a.rs".into(), 7)])
            .await
            .unwrap();
        store.fail_project_index(&id, "boom", 500).await.unwrap();
        let failed = store.project(&id).await.unwrap().unwrap();
        assert_eq!(failed.status, ProjectStatus::Failed);
        assert_eq!(failed.error.as_deref(), Some("boom"));
        assert_eq!(failed.chunks, 7);

        assert!(store.delete_project(&id).await.unwrap());
        assert!(store.project(&id).await.unwrap().is_none());
        assert!(store.document_paths(&id).await.unwrap().is_empty());
        assert!(!store.delete_project(&id).await.unwrap());
    }
}
