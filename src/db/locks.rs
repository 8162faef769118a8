//! Named session locks of the server backends (PostgreSQL advisory locks,
//! MySQL `GET_LOCK`): each lock lives as long as the session that took it, so
//! it is held by a dedicated connection kept outside the pool, and a dropped
//! connection releases it.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::DbError;

/// The lock statements of one backend, run on the connection holding the lock.
#[async_trait]
pub(crate) trait LockSession: sqlx::Connection {
    /// Takes the lock without waiting; `false` when another session holds it.
    async fn take(&mut self, name: &str) -> Result<bool, DbError>;
    /// Whether this session still holds the lock.
    async fn holds(&mut self, name: &str) -> Result<bool, DbError>;
    async fn release(&mut self, name: &str) -> Result<(), DbError>;
}

/// The locks one `Database` holds, by name.
pub(crate) struct SessionLocks<C> {
    held: Mutex<HashMap<String, C>>,
}

impl<C> Default for SessionLocks<C> {
    fn default() -> Self {
        Self {
            held: Mutex::new(HashMap::new()),
        }
    }
}

impl<C: LockSession> SessionLocks<C> {
    /// Takes `name` on a new connection from `connect`, kept while it holds the lock.
    pub async fn try_lock(
        &self,
        name: &str,
        connect: impl Future<Output = Result<C, DbError>> + Send,
    ) -> Result<bool, DbError> {
        let mut held = self.held.lock().await;
        if held.contains_key(name) {
            return Ok(true);
        }
        let mut conn = connect.await?;
        let got = conn.take(name).await?;
        if got {
            held.insert(name.to_string(), conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(got)
    }

    pub async fn holds(&self, name: &str) -> Result<bool, DbError> {
        let mut held = self.held.lock().await;
        let Some(conn) = held.get_mut(name) else {
            return Ok(false);
        };
        match conn.holds(name).await {
            Ok(h) => Ok(h),
            // A dead connection took the lock with it.
            Err(_) => {
                held.remove(name);
                Ok(false)
            }
        }
    }

    pub async fn unlock(&self, name: &str) -> Result<(), DbError> {
        if let Some(mut conn) = self.held.lock().await.remove(name) {
            conn.release(name).await?;
            let _ = conn.close().await;
        }
        Ok(())
    }

    /// Ends every lock's session, which releases the locks.
    pub async fn close(&self) {
        for (_, conn) in self.held.lock().await.drain() {
            let _ = conn.close().await;
        }
    }
}
