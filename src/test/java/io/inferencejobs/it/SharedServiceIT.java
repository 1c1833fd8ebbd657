package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Base of the integration tests that drive the one shared test service over HTTP. */
abstract class SharedServiceIT {
  static Node node;
  static Api api;

  @BeforeAll
  static void startSharedService() {
    node = TestService.shared();
    api = new Api(node.httpPort());
  }

  @AfterAll
  static void closeClient() {
    api.close();
  }
}
