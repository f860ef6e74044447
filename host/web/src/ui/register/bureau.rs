//! What an MSE bureau's user reads (role «Бюро МСЭ», ИС «Исполнение ИПРА»: the regional data mart readable by MSE): the
//! register and the cards of the IPRAs its institution issued, nothing else, each read logged. Every other
//! role reads as before, by its organisation scope.

use crate::app::App;
use crate::auth::{Principal, NO_ORGANISATION};
use crate::register::query::{self, IpraCard, IpraFilter};
use anyhow::Result;

/// The register's filter as the user may have it, and the organisation scope to read it with. A bureau
/// reads its institution's IPRAs (whatever institution the filter names); one without an institution reads
/// none.
pub fn register_scope<'a>(user: &'a Principal, filter: &mut IpraFilter) -> Option<&'a str> {
    match user.issuer_scope() {
        Some(issuer) => {
            filter.issued_by = Some(if issuer.trim().is_empty() {
                NO_ORGANISATION.to_string()
            } else {
                issuer.to_string()
            });
            filter.assigned = None;
            None
        }
        None => user.scope(),
    }
}

/// The organisation scope of a card's view, once the card is known to be the user's to see: a bureau sees
/// the whole IPRA its institution issued (every department's measures and results).
pub fn card_scope(user: &Principal) -> Option<&str> {
    match user.issuer_scope() {
        Some(_) => None,
        None => user.scope(),
    }
}

/// The card of an IPRA if the user may see it: an executor's scope as everywhere; a bureau's only of its
/// institution's IPRAs.
pub async fn card(app: &App, user: &Principal, id: i64) -> Result<Option<IpraCard>> {
    match user.issuer_scope() {
        Some(issuer) => Ok(query::ipra_card(&app.db, id, None)
            .await?
            .filter(|card| !issuer.trim().is_empty() && card.issued_by.as_deref() == Some(issuer))
            .map(|mut card| {
                // How the IPRA is carried out is the bureau's to see; the IPPSU exchanged with the
                // social-services system is not.
                card.ippsu_sends.clear();
                card
            })),
        None => query::ipra_card(&app.db, id, user.scope()).await,
    }
}

/// A bureau's read of a page of the register is logged (its rows name persons); other roles' lists are not.
pub async fn log_list(app: &App, user: &Principal, filter: &IpraFilter, rows: usize) -> Result<()> {
    let Some(issuer) = user.issuer_scope() else {
        return Ok(());
    };
    let detail = serde_json::json!({
        "rows": rows,
        "filter": crate::register::preferences::filter_query(filter),
    })
    .to_string();
    crate::audit::record(
        &app.db,
        &user.actor(),
        "register.read",
        &format!("issuer:{issuer}"),
        Some(&detail),
    )
    .await
}
