package io.inferencejobs.jobs;

import java.util.List;

/** A training job's and a job's task, and the engine's name for it (Ultralytics' {@code task} metadata). */
public final class TaskTypes {
  public static final List<String> ALL = List.of("detection", "segmentation", "pose", "obb", "classification");

  private TaskTypes() {
  }

  /** {@code detect} is detection, {@code segment} segmentation, {@code classify} classification; null stays null. */
  public static String ofModelTask(String task) {
    if (task == null) {
      return null;
    }
    return switch (task) {
      case "detect" -> "detection";
      case "segment" -> "segmentation";
      case "classify" -> "classification";
      default -> task; // pose, obb
    };
  }
}
