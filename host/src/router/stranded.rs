//! No caller left in silence. A channel can sit in one of a tenant's Stasis apps with no call
//! in this router: the router restarted (its calls were in memory), or the socket was down
//! when the channel's StasisStart went out. Asterisk will never send that StasisStart again,
//! so without this the caller hears silence for as long as it cares to wait.
//!
//! After every (re)connect the channel list is checked: a channel that entered one of our
//! apps from the dialplan and has no call gets its tenant's failure policy — once a second
//! has passed and none was opened for it meanwhile, since a StasisStart read just before the
//! list may still be on its way to the call table (and that call may even be over by then).

use super::call::call_of;
use super::table::CallTable;
use super::tenant::{OnFailure, Tenant};
use crate::ari::Rest;
use crate::ari::models::Channel;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a listed channel may stay without a call before the failure policy applies.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The app a channel sits in, when it is in Stasis: `Stasis(app,args…)`'s first argument.
pub fn stasis_app(channel: &Channel) -> Option<&str> {
    if channel.dialplan.app_name != "Stasis" {
        return None;
    }
    channel.dialplan.app_data.split(',').next()
}

/// Applies the failure policy, after [`SETTLE`], to each channel of `channels` that sits in
/// one of the tenants' apps, was not made by a router, and has no call on `server`.
pub fn look_after(
    server: &str,
    channels: &[&Channel],
    by_app: &HashMap<String, Arc<Tenant>>,
    table: &Arc<CallTable>,
    rest: &Rest,
) {
    let candidates: Vec<(String, Arc<Tenant>)> = channels
        .iter()
        .filter(|c| call_of(&c.id).is_none() && table.by_caller(server, &c.id).is_none())
        .filter_map(|c| {
            let tenant = by_app.get(stasis_app(c)?)?;
            Some((c.id.clone(), tenant.clone()))
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    let (server, table, rest) = (server.to_string(), table.clone(), rest.clone());
    let ids: Vec<String> = candidates.iter().map(|(id, _)| id.clone()).collect();
    table.watch(&server, &ids);
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE).await;
        // A call that opened and already ended within SETTLE was no stray.
        let unclaimed = table.unclaimed(&server, ids);
        for (id, tenant) in candidates {
            if !unclaimed.contains(&id) {
                continue;
            }
            tracing::warn!(%server, channel = %id, tenant = %tenant.name, "a caller sits in the tenant's app with no call (the router restarted or missed its start): applying the failure policy");
            apply(&rest, &id, &tenant.on_failure).await;
        }
    });
}

/// The failure policy for a lone channel: hang up with the cause, or continue in the
/// dialplan; a fallback plugin has no call to take over, so that hangs up with 41.
async fn apply(rest: &Rest, id: &str, policy: &OnFailure) {
    let result = match policy {
        OnFailure::Hangup { cause } => rest.hangup(id, *cause).await,
        OnFailure::Fallback { .. } => rest.hangup(id, 41).await,
        OnFailure::Continue {
            context,
            extension,
            priority,
        } => {
            rest.continue_in_dialplan(id, Some(context), extension.as_deref(), *priority)
                .await
        }
    };
    if let Err(e) = result
        && e.status() != Some(404)
    {
        tracing::warn!(channel = %id, error = %crate::log_text::escaped(&e), "failure policy for a stranded caller failed");
    }
}
