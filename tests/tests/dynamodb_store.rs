//! The behaviour suite on DynamoDB (ministack's emulator).
integration_tests::behaviour_suite!(integration_tests::Backend::DynamoDb);
