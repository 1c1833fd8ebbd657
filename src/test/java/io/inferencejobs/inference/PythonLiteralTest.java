package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PythonLiteralTest {

  @Test
  void parsesAnUltralyticsNamesDict() {
    List<String> names = PythonLiteral.names("{0: 'person', 1: \"bicycle\", 2: 'it\\'s', 3: 'potted plant'}");
    assertThat(names).containsExactly("person", "bicycle", "it's", "potted plant");
  }

  @Test
  void namesDictWithGapsAndStringKeys() {
    assertThat(PythonLiteral.names("{'0': 'a', 2: 'c'}")).containsExactly("a", "class_1", "c");
    assertThat(PythonLiteral.names("['x', 'y']")).containsExactly("x", "y");
  }

  @Test
  void parsesImgszListsTuplesAndNumbers() {
    assertThat(PythonLiteral.imageSize("[640, 640]")).containsExactly(640, 640);
    assertThat(PythonLiteral.imageSize("(480, 640)")).containsExactly(480, 640);
    assertThat(PythonLiteral.imageSize("320")).containsExactly(320, 320);
  }

  @Test
  void parsesBooleansNoneAndNestedArgs() {
    assertThat(PythonLiteral.bool("True")).isTrue();
    assertThat(PythonLiteral.bool("False")).isFalse();
    Object args = PythonLiteral.parse("{'batch': 1, 'half': False, 'conf': 0.25, 'x': None, 'l': [1, -2.5e-1,]}");
    assertThat(args).isInstanceOf(Map.class);
    Map<?, ?> map = (Map<?, ?>) args;
    assertThat(map.get("batch")).isEqualTo(1L);
    assertThat(map.get("half")).isEqualTo(false);
    assertThat(map.get("conf")).isEqualTo(0.25);
    assertThat(map.containsKey("x")).isTrue();
    assertThat(map.get("x")).isNull();
    assertThat(map.get("l")).isEqualTo(List.of(1L, -0.25));
  }

  @Test
  void rejectsGarbageWithAClearMessage() {
    assertThatThrownBy(() -> PythonLiteral.parse("{0: 'person'")).hasMessageContaining("not a Python literal");
    assertThatThrownBy(() -> PythonLiteral.parse("import os")).hasMessageContaining("unknown name 'import'");
  }
}
