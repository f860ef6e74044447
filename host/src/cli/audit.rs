//! `ipra audit`: the tamper-evidence of both logs — the exchange log and the general audit log —
//! checked whole, and their heads printed for the operator to record outside the installation.

use super::print_json;
use crate::app::App;
use crate::audit;
use crate::exchange;
use anyhow::Result;
use serde_json::json;

/// `ipra audit verify [--head SEQ:HASH]…`: exit status 1 when either log does not hold.
pub async fn verify(app: &App, heads: &[String], json: bool) -> Result<i32> {
    let heads = heads.iter().map(|h| audit::parse_head(h)).collect::<Result<Vec<_>>>()?;
    let v = audit::verify_logs(&app.db, &app.data_dir, &heads).await?;
    if json {
        print_json(&v)?;
    } else {
        let (x, a) = (&v.exchange_log, &v.audit_log);
        if x.ok {
            println!(
                "журнал обмена цел: {} записей, документов сверено: {}, сверено с записанными головами: {}; голова exchange:{}:{}",
                x.entries, x.documents_checked, x.heads_checked, x.head.seq, x.head.hash
            );
        } else {
            println!(
                "журнал обмена нарушен на записи {}: {}",
                x.broken_at.unwrap_or_default(),
                x.reason.clone().unwrap_or_default()
            );
        }
        if a.ok {
            println!(
                "журнал аудита цел: {} записей, сверено с записанными головами: {}; голова {}:{}",
                a.entries, a.heads_checked, a.head.seq, a.head.hash
            );
        } else {
            println!(
                "журнал аудита нарушен на записи {}: {}",
                a.broken_at.unwrap_or_default(),
                a.reason.clone().unwrap_or_default()
            );
        }
    }
    Ok(if v.ok { 0 } else { 1 })
}

/// `ipra audit head`: the heads to record (a paper log, another system) and to give back to
/// `ipra audit verify --head` later.
pub async fn head(app: &App, json: bool) -> Result<i32> {
    audit::seal(&app.db, Some(&audit::anchor_file(&app.data_dir))).await?;
    let audit_head = audit::head(&app.db).await?;
    let exchange_head = audit::chain_head(&app.db, &exchange::log::CHAIN).await?;
    if json {
        print_json(&json!({
            "audit_log": audit_head,
            "exchange_log": exchange_head,
            "anchor_file": audit::anchor_file(&app.data_dir),
        }))?;
    } else {
        println!("голова журнала аудита: {}:{}", audit_head.seq, audit_head.hash);
        println!(
            "голова журнала обмена: exchange:{}:{}",
            exchange_head.seq, exchange_head.hash
        );
        println!(
            "запишите их вне сервера; проверка с ними: ipra audit verify --head {}:{} --head exchange:{}:{}",
            audit_head.seq, audit_head.hash, exchange_head.seq, exchange_head.hash
        );
        println!("якоря пишутся в {}", audit::anchor_file(&app.data_dir).display());
    }
    Ok(0)
}
