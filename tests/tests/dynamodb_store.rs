//! The behaviour suite on DynamoDB, through dynalite.
integration_tests::behaviour_suite!(integration_tests::Backend::DynamoDb);
