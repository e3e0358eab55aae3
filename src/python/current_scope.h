// The scope Python ops build into. A graph is built only while recship
// calls a model_fn or serving_input_receiver_fn (or inside name_scope and
// device blocks there), so ops find their scope here rather than taking one,
// the way TensorFlow's ops find the default graph.
#ifndef RECSHIP_PYTHON_CURRENT_SCOPE_H_
#define RECSHIP_PYTHON_CURRENT_SCOPE_H_

#include "recship/graph/graph.h"

namespace recship::python {

// The innermost scope on this thread; raises RuntimeError when no graph is
// being built.
const Scope& CurrentScope();

// Makes `scope` the current one on this thread until destroyed.
class ScopePush {
 public:
  explicit ScopePush(Scope scope);
  ~ScopePush();
  ScopePush(const ScopePush&) = delete;
  ScopePush& operator=(const ScopePush&) = delete;
};

// Raises the graph's first error, naming the node at fault, if it has one:
// called after each op so an error surfaces at the line that made it.
void CheckGraph(const Scope& scope);

}  // namespace recship::python

#endif  // RECSHIP_PYTHON_CURRENT_SCOPE_H_
