//! The behaviour suite on the in-memory store.
integration_tests::behaviour_suite!(integration_tests::Backend::Memory);
