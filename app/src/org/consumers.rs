//! What other processes learn of place and membership changes: each
//! process's caches of callers (sessions with their memberships) and of
//! what movements need of their pantry are forgotten when an organization,
//! campus or pantry changes or someone joins one, in whichever process it
//! happened. (The process that made the change forgets at once too, so its
//! user reads their own write.)

use std::sync::Arc;

use crate::auth::callers::CallerCache;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::Event;
use crate::inventory::service::MovementContext;
use crate::recent::Recent;

pub struct PlaceCaches {
    pub callers: Arc<CallerCache>,
    pub contexts: Arc<Recent<MovementContext>>,
}

impl Consumer for PlaceCaches {
    fn name(&self) -> &'static str {
        "place-caches"
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            use DomainEvent::*;
            match event.domain()? {
                OrganizationCreated(_)
                | OrganizationRenamed(_)
                | OrganizationArchived(_)
                | CampusCreated(_)
                | CampusRenamed(_)
                | CampusArchived(_)
                | PantryCreated(_)
                | PantryRenamed(_)
                | PantryArchived(_)
                | OrganizationTimeZoneSet(_)
                | PantryTimeZoneSet(_)
                | MemberJoined(_)
                | MemberRoleChanged(_)
                | MemberRemoved(_) => {
                    self.callers.forget_all();
                    self.contexts.forget_all();
                }
                _ => {}
            }
            Ok(())
        })
    }
}
